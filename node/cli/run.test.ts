import { describe, expect, it } from 'vitest';
import { catchUpWatcher } from './run.js';
import { progress } from './progress.js';

// The catch-up bar of `node start`, driven by a scripted view of the logs and
// a scripted clock (no timers): when it appears, what it counts, when it ends.

describe('catch-up progress', () => {
  it('shows entries stored since the node fell behind, of those plus the missing ones, and finishes when caught up', () => {
    let now = 0;
    let logs = [
      { storedSeq: 10, knownSeq: 10 },
      { storedSeq: 0, knownSeq: 0 },
    ];
    const lines: string[] = [];
    const watcher = catchUpWatcher(
      { logs: () => logs },
      (total) => progress('catch-up', { total, unit: 'entries', stream: { write: (text) => lines.push(text) }, plainEveryMs: 0, nowMs: () => now, estimator: { windowMsMin: 2000, halfLifeMs: 10_000 } }),
      100,
    );
    watcher.check();
    logs = [{ storedSeq: 10, knownSeq: 10 }, { storedSeq: 0, knownSeq: 50 }];
    watcher.check(); // 50 behind: under the threshold, no bar
    expect(lines).toEqual([]);

    logs = [{ storedSeq: 10, knownSeq: 10 }, { storedSeq: 0, knownSeq: 400 }];
    watcher.check();
    now = 2000;
    logs = [{ storedSeq: 10, knownSeq: 10 }, { storedSeq: 300, knownSeq: 600 }]; // peers wrote 200 more meanwhile
    watcher.check();
    now = 3000;
    logs = [{ storedSeq: 10, knownSeq: 10 }, { storedSeq: 600, knownSeq: 600 }];
    watcher.check();
    // At 2 s: 300 stored (150/s) while the total grew by 200 (100/s): the 300
    // missing shrink at 50/s, so about 6 s left, not the 2 s that 300 / 150/s says.
    const keep = Math.pow(2, -1000 / 10_000); // the smoothed rate one second later
    expect(lines).toEqual([
      'catch-up  [------------------------]    0%  0/400 entries  measuring rate\n',
      'catch-up  [############------------]   50%  300/600 entries  150/s  ~10s left\n',
      `catch-up  [########################]  100%  600/600 entries  ${Math.round(150 * keep + 300 * (1 - keep))}/s\n`,
      'catch-up  [########################]  100%  600/600 entries  200/s  in 3.0s  caught up\n',
    ]);

    // Behind again later: a new bar; stopping the node finishes it.
    logs = [{ storedSeq: 10, knownSeq: 2000 }, { storedSeq: 600, knownSeq: 600 }];
    watcher.check();
    watcher.stop();
    expect(lines.at(-1)).toMatch(/0\/1,990 entries .*stopped before catching up\n$/);
  });
});
