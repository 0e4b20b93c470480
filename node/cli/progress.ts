// Progress of a long operation (catch-up, import, export, backup, restore):
// done/total, rate and time left. On a terminal one line is redrawn in place;
// elsewhere (logs, CI) a plain line is printed now and then.

export interface ProgressSnapshot {
  readonly label: string;
  readonly done: number;
  /** undefined while the total is not known yet. */
  readonly total: number | undefined;
  readonly unit: string;
  readonly elapsedMs: number;
}

const barWidth = 24;

const count = (n: number): string => Math.round(n).toLocaleString('en-US');

function rate(perSecond: number): string {
  if (perSecond >= 10_000) return `${(perSecond / 1000).toFixed(1)}k/s`;
  return `${count(perSecond)}/s`;
}

function duration(ms: number): string {
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${(s % 60).toString().padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60).toString().padStart(2, '0')}m`;
}

/** One line: `catch-up [#######-----]  45% 90,000/200,000 entries  38.6k/s  3s left`. Pure, for tests. */
export function formatProgress(p: ProgressSnapshot): string {
  const perSecond = p.elapsedMs > 0 ? (p.done * 1000) / p.elapsedMs : 0;
  const parts = [p.label];
  if (p.total !== undefined && p.total > 0) {
    const fraction = Math.min(1, p.done / p.total);
    const filled = Math.round(fraction * barWidth);
    parts.push(`[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]`, `${Math.floor(fraction * 100).toString().padStart(3)}%`);
    parts.push(`${count(p.done)}/${count(p.total)} ${p.unit}`);
  } else {
    parts.push(`${count(p.done)} ${p.unit}`);
  }
  parts.push(rate(perSecond));
  if (p.total !== undefined && p.done < p.total && perSecond > 0) parts.push(`${duration(((p.total - p.done) / perSecond) * 1000)} left`);
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
}

export interface Progress {
  /** Sets how much is done (and the total, once known). */
  update(done: number, total?: number): void;
  /** Prints the final line (with `message` when given) and stops redrawing. */
  finish(message?: string): void;
}

/** A progress line for `label`; redraws at most every 100 ms on a terminal. */
export function progress(label: string, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const now = options.nowMs ?? Date.now;
  const tty = stream.isTTY === true;
  const startedMs = now();
  let done = 0;
  let total = options.total;
  let lastDrawMs = -Infinity;
  let finished = false;
  const snapshot = (): ProgressSnapshot => ({ label, done, total, unit: options.unit ?? 'entries', elapsedMs: now() - startedMs });
  const draw = (force: boolean): void => {
    const at = now();
    if (!force && at - lastDrawMs < (tty ? 100 : (options.plainEveryMs ?? 2000))) return;
    lastDrawMs = at;
    stream.write(tty ? `\r\x1b[2K${formatProgress(snapshot())}` : `${formatProgress(snapshot())}\n`);
  };
  return {
    update(value, newTotal) {
      if (finished) return;
      done = value;
      if (newTotal !== undefined) total = newTotal;
      draw(false);
    },
    finish(message) {
      if (finished) return;
      finished = true;
      const line = formatProgress(snapshot()) + (message ? `  ${message}` : '');
      stream.write(tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
    },
  };
}
