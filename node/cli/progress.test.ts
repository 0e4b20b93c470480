import { describe, expect, it } from 'vitest';
import { formatProgress, progress } from './progress.js';

describe('progress', () => {
  it('shows the bar, counts, the smoothed rate and time left', () => {
    const line = formatProgress({ label: 'catch-up', done: 90_000, total: 200_000, unit: 'entries', estimate: { perSecond: 45_000, timeLeft: { kind: 'left', ms: 2_400 } } });
    expect(line).toBe('catch-up  [###########-------------]   45%  90,000/200,000 entries  45.0k/s  ~5s left');
  });

  it('says it is measuring instead of guessing, and names a stall or a total that outruns it', () => {
    const shown = (estimate: Parameters<typeof formatProgress>[0]['estimate']) => formatProgress({ label: 'catch-up', done: 10, total: 400, unit: 'entries', estimate });
    expect(shown({ perSecond: undefined, timeLeft: { kind: 'measuring' } })).toBe('catch-up  [#-----------------------]    2%  10/400 entries  measuring rate');
    expect(shown({ perSecond: 3.25, timeLeft: { kind: 'stalled', forMs: 12_000 } })).toMatch(/10\/400 entries {2}3\.3\/s {2}no progress for 12s$/);
    expect(shown({ perSecond: 1200, timeLeft: { kind: 'not-catching-up', totalPerSecond: 1500 } })).toMatch(/1,200\/s {2}not catching up \(total grows 1,500\/s\)$/);
  });

  it('leaves out the bar and time left while the total is unknown', () => {
    expect(formatProgress({ label: 'export', done: 12, total: undefined, unit: 'rows', estimate: { perSecond: 3, timeLeft: { kind: 'unknown-total' } } })).toBe('export  12 rows  3.0/s');
  });

  it('prints plain lines off a terminal, throttled, with no time left before the rate is measured, and a final line once', () => {
    const lines: string[] = [];
    let now = 0;
    const bar = progress('backup', {
      total: 100,
      unit: 'entries',
      stream: { write: (t: string) => lines.push(t) },
      nowMs: () => now,
      plainEveryMs: 1000,
      estimator: { windowMsMin: 2000, halfLifeMs: 10_000 },
    });
    bar.update(1);
    now = 500;
    bar.update(2); // within the interval: not printed
    now = 1500;
    bar.update(15);
    now = 3000;
    bar.update(30); // 30 entries over the 3 s since the last moment with none: 10/s, 70 left
    now = 4000;
    bar.finish('done');
    bar.finish('again');
    expect(lines).toEqual([
      'backup  [------------------------]    1%  1/100 entries  measuring rate\n',
      'backup  [####--------------------]   15%  15/100 entries  measuring rate\n',
      'backup  [#######-----------------]   30%  30/100 entries  10/s  ~10s left\n',
      'backup  [#######-----------------]   30%  30/100 entries  7.5/s  in 4.0s  done\n',
    ]);
  });

  it('redraws one line in place on a terminal and ends it with a newline', () => {
    const lines: string[] = [];
    let now = 0;
    const bar = progress('import entities', { total: 4, unit: 'rows', stream: { write: (t: string) => lines.push(t), isTTY: true }, nowMs: () => now });
    now = 200;
    bar.update(2);
    now = 800;
    bar.finish('committed');
    expect(lines).toEqual([
      '\r\x1b[2Kimport entities  [############------------]   50%  2/4 rows  measuring rate',
      '\r\x1b[2Kimport entities  [############------------]   50%  2/4 rows  2.5/s  in 0.8s  committed\n',
    ]);
  });
});
