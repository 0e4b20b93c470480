// Progress of a long operation (catch-up, import, export, backup, restore):
// done/total, the recent rate and the time left (progress-estimate.ts says when
// and how they are estimated). On a terminal one line is redrawn in place;
// elsewhere (logs, CI) a plain line is printed now and then. The final line
// gives the measured average and the time taken instead of an estimate.

import { progressRateHalfLifeMs, progressRateWindowMsMin } from '../limits.js';
import { formatElapsed, formatTimeLeft, ProgressEstimator, type Estimate, type EstimatorOptions } from './progress-estimate.js';

export interface ProgressSnapshot {
  readonly label: string;
  readonly done: number;
  /** undefined while the total is not known yet. */
  readonly total: number | undefined;
  readonly unit: string;
  /** Rate and time left while running; for the final line, the whole operation's time instead. */
  readonly estimate: Estimate | { readonly elapsedMs: number };
}

const barWidth = 24;

const count = (n: number): string => Math.round(n).toLocaleString('en-US');

function rate(perSecond: number): string {
  if (perSecond >= 10_000) return `${(perSecond / 1000).toFixed(1)}k/s`;
  if (perSecond > 0 && perSecond < 10) return `${perSecond.toFixed(1)}/s`;
  return `${count(perSecond)}/s`;
}

function timeLeft(estimate: Estimate): string | undefined {
  const left = estimate.timeLeft;
  switch (left.kind) {
    case 'measuring':
      return 'measuring rate';
    case 'stalled':
      return `no progress for ${formatElapsed(left.forMs)}`;
    case 'not-catching-up':
      return `not catching up (total grows ${rate(left.totalPerSecond)})`;
    case 'left':
      return `${formatTimeLeft(left.ms)} left`;
    case 'done':
    case 'unknown-total':
      return undefined;
  }
}

/** One line: `catch-up  [#####-------]   45%  90,000/200,000 entries  38.6k/s  ~3s left`. Pure, for tests. */
export function formatProgress(p: ProgressSnapshot): string {
  const parts = [p.label];
  if (p.total !== undefined && p.total > 0) {
    const fraction = Math.min(1, p.done / p.total);
    const filled = Math.round(fraction * barWidth);
    parts.push(`[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]`, `${Math.floor(fraction * 100).toString().padStart(3)}%`);
    parts.push(`${count(p.done)}/${count(p.total)} ${p.unit}`);
  } else {
    parts.push(`${count(p.done)} ${p.unit}`);
  }
  if ('elapsedMs' in p.estimate) {
    if (p.estimate.elapsedMs > 0 && p.done > 0) parts.push(rate((p.done * 1000) / p.estimate.elapsedMs));
    parts.push(`in ${formatElapsed(p.estimate.elapsedMs)}`);
  } else {
    if (p.estimate.perSecond !== undefined) parts.push(rate(p.estimate.perSecond));
    const left = timeLeft(p.estimate);
    if (left !== undefined) parts.push(left);
  }
  return parts.join('  ');
}

export interface ProgressOptions {
  readonly total?: number;
  /** What is counted: "entries", "rows", "bytes". */
  readonly unit?: string;
  /** Where the bar goes; stderr by default, so stdout stays clean for data. */
  readonly stream?: { write(text: string): unknown; isTTY?: boolean };
  /** Plain-line interval when the stream is not a terminal. */
  readonly plainEveryMs?: number;
  readonly nowMs?: () => number;
  /** How the rate is measured; progressRateWindowMsMin and progressRateHalfLifeMs by default. */
  readonly estimator?: EstimatorOptions;
}

export interface Progress {
  /** Sets how much is done (and the total, once known or when it grows). */
  update(done: number, total?: number): void;
  /** Prints the final line (with `message` when given) and stops redrawing. */
  finish(message?: string): void;
}

/** A progress line for `label`; redraws at most every 100 ms on a terminal. */
export function progress(label: string, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const now = options.nowMs ?? Date.now;
  const tty = stream.isTTY === true;
  const unit = options.unit ?? 'entries';
  const startedMs = now();
  let done = 0;
  let total = options.total;
  const estimator = new ProgressEstimator(
    { atMs: startedMs, done, total },
    options.estimator ?? { windowMsMin: progressRateWindowMsMin, halfLifeMs: progressRateHalfLifeMs },
  );
  let lastDrawMs = -Infinity;
  let finished = false;
  const write = (line: string, final: boolean): void => {
    stream.write(tty ? `\r\x1b[2K${line}${final ? '\n' : ''}` : `${line}\n`);
  };
  return {
    update(value, newTotal) {
      if (finished) return;
      const at = now();
      done = value;
      if (newTotal !== undefined) total = newTotal;
      estimator.observe(at, done, total);
      if (at - lastDrawMs < (tty ? 100 : (options.plainEveryMs ?? 2000))) return;
      lastDrawMs = at;
      write(formatProgress({ label, done, total, unit, estimate: estimator.estimate(at) }), false);
    },
    finish(message) {
      if (finished) return;
      finished = true;
      const line = formatProgress({ label, done, total, unit, estimate: { elapsedMs: now() - startedMs } });
      write(line + (message ? `  ${message}` : ''), true);
    },
  };
}
