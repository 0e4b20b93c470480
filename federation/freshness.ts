// Whether this node can vouch for a member's data: the one rule behind every
// answer that fails closed (sanctions checks, expert draws) and behind the
// breach metric, so a check and the metric cannot disagree.
//
// After a restart (or for a member just admitted) no head has been heard yet:
// the data may be current or weeks old, and nothing here can tell. That is
// `unknown`, and it fails closed exactly like `stale`: a check answers
// unknown-stale and the metric counts a breach, until a head is heard.

/** A member's log as the replica knows it (an element of Replica.logs()). */
export interface LogSighting {
  readonly nodeId: string;
  /** Signing time of the newest verified head heard since the replica opened; undefined before one. */
  readonly signedAtMs: number | undefined;
}

/**
 * fresh: the newest head heard was signed at most the budget ago (this node's
 * own log always is); stale: longer ago; unknown: no head heard since the
 * replica opened. Only fresh lets a check answer "clear".
 */
export type FreshnessState = 'fresh' | 'stale' | 'unknown';

export interface Freshness {
  readonly state: FreshnessState;
  /** Since the newest head heard was signed (0 for this node's own log, never negative); undefined when unknown. */
  readonly ageMs: number | undefined;
  /**
   * When the data passes (or passed) the budget, Unix ms: signedAtMs +
   * budgetMs, so a breach is `breachAtMs - nowMs` away (negative: since then).
   * Undefined for this node's own log, which never breaches, and while unknown.
   */
  readonly breachAtMs: number | undefined;
}

/** `budgetMs` is the alliance's freshness budget (genesis `freshnessBudgetMs`, positive). */
export function judgeFreshness(log: LogSighting, selfId: string, nowMs: number, budgetMs: number): Freshness {
  if (log.nodeId === selfId) return { state: 'fresh', ageMs: 0, breachAtMs: undefined };
  if (log.signedAtMs === undefined) return { state: 'unknown', ageMs: undefined, breachAtMs: undefined };
  const ageMs = Math.max(0, nowMs - log.signedAtMs);
  return { state: ageMs > budgetMs ? 'stale' : 'fresh', ageMs, breachAtMs: log.signedAtMs + budgetMs };
}

/** What an answer reports per member. */
export interface MemberFreshness extends Freshness {
  readonly nodeId: string;
  readonly storedSeq: number;
  /** Not fresh (stale or unknown): an answer that needs this member's data fails closed. */
  readonly stale: boolean;
}

/** Every member's freshness, as this replica knows its logs now. */
export function freshness(replica: { readonly nodeId: string; logs(): ReadonlyArray<LogSighting & { readonly storedSeq: number }> }, nowMs: number, budgetMs: number): MemberFreshness[] {
  return replica.logs().map((log) => {
    const judged = judgeFreshness(log, replica.nodeId, nowMs, budgetMs);
    return { nodeId: log.nodeId, storedSeq: log.storedSeq, ...judged, stale: judged.state !== 'fresh' };
  });
}
