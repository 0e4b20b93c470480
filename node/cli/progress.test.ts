import { describe, expect, it } from 'vitest';
import { formatProgress, progress } from './progress.js';

describe('progress', () => {
  it('shows the bar, counts, rate and time left', () => {
    const line = formatProgress({ label: 'catch-up', done: 90_000, total: 200_000, unit: 'entries', elapsedMs: 2_000 });
    expect(line).toBe('catch-up  [###########-------------]   45%  90,000/200,000 entries  45.0k/s  3s left');
  });

  it('leaves out the bar and time left while the total is unknown', () => {
    expect(formatProgress({ label: 'export', done: 12, total: undefined, unit: 'rows', elapsedMs: 4_000 })).toBe('export  12 rows  3/s');
  });

  it('prints plain lines off a terminal, throttled, and a final line once', () => {
    const lines: string[] = [];
    let now = 0;
    const bar = progress('backup', { total: 10, unit: 'entries', stream: { write: (t: string) => lines.push(t) }, nowMs: () => now, plainEveryMs: 1000 });
    bar.update(1);
    now = 500;
    bar.update(2); // within the interval: not printed
    now = 1500;
    bar.update(5);
    bar.finish('done');
    bar.finish('again');
    expect(lines).toEqual([
      'backup  [##----------------------]   10%  1/10 entries  0/s\n',
      'backup  [############------------]   50%  5/10 entries  3/s  2s left\n',
      'backup  [############------------]   50%  5/10 entries  3/s  2s left  done\n',
    ]);
  });
});
