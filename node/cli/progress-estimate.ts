// The rate and time left of a long operation, from (time, done, total)
// observations. Pure: time is an input, so tests drive it with a scripted clock.
//
// Why not done / elapsed: an operation's first seconds are not its pace. A
// catch-up spends them connecting and verifying its first chunk, then stores
// 50,000 entries at once; an import's first requests warm the node up. A rate
// since start that includes them gave "44h49m left" for a catch-up done in a
// minute. So:
// - no rate and no time left until progress has been measured over
//   `windowMsMin` (counted from the last observation before the first progress,
//   so a slow start is not averaged in);
// - then the rate is that window's average, smoothed by an exponentially
//   weighted moving average with half-life `halfLifeMs`: the recent pace, not
//   the pace since start;
// - the total may grow meanwhile (peers keep writing while a node catches up):
//   its growth rate is smoothed the same way, and the time left is what
//   remains over the rate at which the remainder shrinks (done rate minus
//   growth rate); when the remainder does not shrink, there is no time left to
//   give: "not catching up";
// - no progress for `windowMsMin` is said as such ("stalled"), not turned into
//   a time left that grows without bound.

export interface EstimatorOptions {
  /** How long progress must be measured before a rate is given. */
  readonly windowMsMin: number;
  /** Half-life of the moving averages: an observation this old weighs half of a new one. */
  readonly halfLifeMs: number;
}

export type TimeLeft =
  /** Progress has not been measured for windowMsMin yet. */
  | { readonly kind: 'measuring' }
  /** The total is not known (an export that pages until the end). */
  | { readonly kind: 'unknown-total' }
  /** Nothing left. */
  | { readonly kind: 'done' }
  /** No progress for `forMs` (at least windowMsMin). */
  | { readonly kind: 'stalled'; readonly forMs: number }
  /** The total grows at least as fast as done: the remainder does not shrink. */
  | { readonly kind: 'not-catching-up'; readonly totalPerSecond: number }
  | { readonly kind: 'left'; readonly ms: number };

export interface Estimate {
  /** Smoothed progress per second; undefined while measuring. */
  readonly perSecond: number | undefined;
  readonly timeLeft: TimeLeft;
}

interface Observation {
  readonly atMs: number;
  readonly done: number;
  readonly total: number | undefined;
}

/** Weight an average keeps after `ms`: 1/2 per half-life. */
const decay = (ms: number, halfLifeMs: number): number => Math.pow(2, -ms / halfLifeMs);

export class ProgressEstimator {
  readonly #options: EstimatorOptions;
  /** The latest observation folded into the averages. */
  #last: Observation;
  /** Where the measurement window starts: the last observation before any progress. */
  #baseline: Observation;
  #progressed = false;
  #lastProgressMs: number;
  /** Smoothed rates per second, once the first window is measured. */
  #rates: { done: number; total: number } | undefined;

  constructor(start: Observation, options: EstimatorOptions) {
    this.#options = options;
    this.#last = start;
    this.#baseline = start;
    this.#lastProgressMs = start.atMs;
  }

  /**
   * Folds in how far the operation is at `atMs`. Observations come in time
   * order; one at the same time as the previous is merged into the next
   * interval (no rate over zero time).
   */
  observe(atMs: number, done: number, total?: number): void {
    const previous = this.#last;
    if (atMs < previous.atMs) return;
    if (done > previous.done) this.#lastProgressMs = atMs;
    if (!this.#progressed) {
      if (done <= this.#baseline.done) {
        // Still nothing done: the window starts at the latest such moment.
        this.#baseline = { atMs, done, total: total ?? this.#baseline.total };
        this.#last = this.#baseline;
        return;
      }
      this.#progressed = true;
    }
    if (atMs === previous.atMs) return; // folded in with the next observation
    const current = { atMs, done, total: total ?? previous.total };
    this.#last = current;
    if (this.#rates === undefined) {
      const windowMs = atMs - this.#baseline.atMs;
      if (windowMs < this.#options.windowMsMin) return;
      this.#rates = { done: perSecond(current.done - this.#baseline.done, windowMs), total: perSecond(grown(this.#baseline, current), windowMs) };
      return;
    }
    const intervalMs = atMs - previous.atMs;
    const keep = decay(intervalMs, this.#options.halfLifeMs);
    this.#rates = {
      done: this.#rates.done * keep + perSecond(current.done - previous.done, intervalMs) * (1 - keep),
      total: this.#rates.total * keep + perSecond(grown(previous, current), intervalMs) * (1 - keep),
    };
  }

  /** The estimate at `nowMs` (at or after the last observation: the time since counts as no progress). */
  estimate(nowMs: number): Estimate {
    const { done, total } = this.#last;
    if (total !== undefined && done >= total) return { perSecond: this.#rates?.done, timeLeft: { kind: 'done' } };
    if (this.#rates === undefined) {
      const idleMs = nowMs - this.#lastProgressMs;
      const waited = !this.#progressed && idleMs >= this.#options.windowMsMin;
      return { perSecond: undefined, timeLeft: waited ? { kind: 'stalled', forMs: idleMs } : { kind: 'measuring' } };
    }
    const keep = decay(Math.max(0, nowMs - this.#last.atMs), this.#options.halfLifeMs);
    const rates = { done: this.#rates.done * keep, total: this.#rates.total * keep };
    if (total === undefined) return { perSecond: rates.done, timeLeft: { kind: 'unknown-total' } };
    const idleMs = nowMs - this.#lastProgressMs;
    if (idleMs >= this.#options.windowMsMin) return { perSecond: rates.done, timeLeft: { kind: 'stalled', forMs: idleMs } };
    const shrinking = rates.done - rates.total;
    if (shrinking <= 0) return { perSecond: rates.done, timeLeft: { kind: 'not-catching-up', totalPerSecond: rates.total } };
    return { perSecond: rates.done, timeLeft: { kind: 'left', ms: ((total - done) / shrinking) * 1000 } };
  }
}

const perSecond = (amount: number, ms: number): number => (amount * 1000) / ms;

/** How much the total grew between two observations (0 while it is unknown). */
const grown = (from: Observation, to: Observation): number => (from.total !== undefined && to.total !== undefined ? to.total - from.total : 0);

/**
 * A time left as people read an estimate: no more digits than it is worth.
 * Under a minute to 5 s ("~45s"), under 10 minutes to 10 s ("~3m20s"), under
 * an hour to the minute ("~42m"), under a day to 10 minutes ("~5h10m"), then
 * to the hour ("~2d05h"). Rounded up, so "~5s" is the least shown.
 */
export function formatTimeLeft(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  const up = (value: number, step: number): number => Math.ceil(value / step) * step;
  if (s < 60) return up(s, 5) === 60 ? '~1m' : `~${up(s, 5)}s`;
  if (s < 600) {
    const t = up(s, 10);
    return t % 60 === 0 ? `~${t / 60}m` : `~${Math.floor(t / 60)}m${(t % 60).toString().padStart(2, '0')}s`;
  }
  if (s < 3600) return `~${up(s, 60) / 60}m`;
  if (s < 86_400) {
    const m = up(s, 600) / 60;
    return m % 60 === 0 ? `~${m / 60}h` : `~${Math.floor(m / 60)}h${(m % 60).toString().padStart(2, '0')}m`;
  }
  const h = up(s, 3600) / 3600;
  return h % 24 === 0 ? `~${h / 24}d` : `~${Math.floor(h / 24)}d${(h % 24).toString().padStart(2, '0')}h`;
}

/** An elapsed time, exactly enough for a final line: "0.8s", "12s", "3m05s", "1h02m". */
export function formatElapsed(ms: number): string {
  if (ms < 10_000) return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${(s % 60).toString().padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60).toString().padStart(2, '0')}m`;
}
