// How fresh a member's data is, as a colour: red when the node says it is
// stale (older than the alliance's freshness budget, or not heard since the
// node started: checks fail closed then), yellow once less than
// freshnessWarnFraction of the budget is left, green otherwise. The verdict
// "stale" is the node's (federation/freshness.ts); the console only adds the
// warning band and the time left before a breach.

/** Yellow below this share of the budget left: with the default 30 s budget and 2 s beacons, ~4 missed beacons. */
export const freshnessWarnFraction = 0.25;

export type FreshnessColour = 'green' | 'yellow' | 'red';

export interface Freshness {
  readonly colour: FreshnessColour;
  /** Milliseconds before the budget is passed; 0 when it has been. */
  readonly leftMs: number;
}

/** `ageMs` -1: never heard. `stale` is the node's own judgement (MemberStatus.stale_since_ms > 0, or never heard). */
export function freshnessOf(ageMs: number, budgetMs: number, stale: boolean): Freshness {
  if (stale || ageMs < 0 || ageMs >= budgetMs) return { colour: 'red', leftMs: 0 };
  const leftMs = budgetMs - ageMs;
  return { colour: leftMs < budgetMs * freshnessWarnFraction ? 'yellow' : 'green', leftMs };
}

/** 1234 -> "1.2 s", 75000 -> "1 min 15 s". */
export function formatDurationMs(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export const formatTime = (ms: number | string): string => {
  const value = Number(ms);
  return value === 0 ? '—' : new Date(value).toLocaleString('zh-CN', { hour12: false });
};
