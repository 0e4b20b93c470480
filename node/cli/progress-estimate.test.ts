import { describe, expect, it } from 'vitest';
import { formatElapsed, formatTimeLeft, ProgressEstimator, type Estimate } from './progress-estimate.js';

// The estimator on scripted clocks: every observation names its time, so no
// test waits and none depends on how fast the machine is.

const options = { windowMsMin: 5000, halfLifeMs: 10_000 };

/** Observes `perSecond` progress every `stepMs` from `fromMs` to `untilMs`; the total grows by `growthPerSecond`. */
function run(estimator: ProgressEstimator, from: { atMs: number; done: number; total: number }, untilMs: number, perSecond: number, stepMs = 500, growthPerSecond = 0) {
  let { atMs, done, total } = from;
  while (atMs < untilMs) {
    atMs += stepMs;
    done += (perSecond * stepMs) / 1000;
    total += (growthPerSecond * stepMs) / 1000;
    estimator.observe(atMs, done, total);
  }
  return { atMs, done, total };
}

const leftMs = (estimate: Estimate): number => {
  if (estimate.timeLeft.kind !== 'left') throw new Error(`expected a time left, got ${JSON.stringify(estimate.timeLeft)}`);
  return estimate.timeLeft.ms;
};

describe('ProgressEstimator', () => {
  it('gives no rate and no time left until progress has been measured for the minimum window', () => {
    const estimator = new ProgressEstimator({ atMs: 0, done: 0, total: 100_000 }, options);
    estimator.observe(500, 2, 100_000);
    expect(estimator.estimate(500)).toEqual({ perSecond: undefined, timeLeft: { kind: 'measuring' } });
    run(estimator, { atMs: 500, done: 2, total: 100_000 }, 4500, 1000);
    expect(estimator.estimate(4500).timeLeft.kind).toBe('measuring');
    estimator.observe(5000, 4502, 100_000);
    expect(estimator.estimate(5000).perSecond).toBeCloseTo(900.4, 6); // 4,502 over the first 5 s
  });

  it('measures a steady rate exactly and the time left from it', () => {
    const estimator = new ProgressEstimator({ atMs: 0, done: 0, total: 100_000 }, options);
    const at = run(estimator, { atMs: 0, done: 0, total: 100_000 }, 20_000, 2000);
    const estimate = estimator.estimate(at.atMs);
    expect(estimate.perSecond).toBeCloseTo(2000, 6);
    expect(leftMs(estimate)).toBeCloseTo(30_000, 3); // 60,000 left at 2,000/s
  });

  it('does not average a slow start in: the window opens at the last observation before the first progress', () => {
    // The catch-up that said "44h49m left": 20 s connecting, then 10,000 entries/s.
    const estimator = new ProgressEstimator({ atMs: 0, done: 0, total: 1_000_000 }, options);
    for (let t = 500; t <= 20_000; t += 500) estimator.observe(t, 0, 1_000_000);
    expect(estimator.estimate(20_000).timeLeft).toEqual({ kind: 'stalled', forMs: 20_000 });
    run(estimator, { atMs: 20_000, done: 0, total: 1_000_000 }, 25_000, 10_000);
    const estimate = estimator.estimate(25_000);
    expect(estimate.perSecond).toBeCloseTo(10_000, 6);
    expect(leftMs(estimate)).toBeCloseTo(95_000, 3);
  });

  it('follows the recent pace, not the pace since start', () => {
    const estimator = new ProgressEstimator({ atMs: 0, done: 0, total: 10_000_000 }, options);
    const fast = run(estimator, { atMs: 0, done: 0, total: 10_000_000 }, 60_000, 10_000);
    const slow = run(estimator, fast, 120_000, 1000);
    // Since start: 660,000 / 120 s = 5,500/s. Six half-lives after the change the old
    // pace weighs 1/64: 10,000/64 + 1,000 * 63/64 = 1,140.6/s.
    expect(estimator.estimate(slow.atMs).perSecond).toBeCloseTo(10_000 / 64 + (1000 * 63) / 64, 6);
  });

  it('smooths bursts into their average', () => {
    // 15,000 entries committed at once every 3 s: 5,000/s on average.
    const estimator = new ProgressEstimator({ atMs: 0, done: 0, total: 10_000_000 }, options);
    let done = 0;
    for (let t = 500; t <= 90_000; t += 500) {
      if (t % 3000 === 0) done += 15_000;
      estimator.observe(t, done, 10_000_000);
    }
    const perSecond = estimator.estimate(90_000).perSecond!;
    expect(Math.abs(perSecond - 5000) / 5000).toBeLessThan(0.15);
  });

  it('says a stall is a stall once nothing moved for the window, and lets the rate decay', () => {
    const estimator = new ProgressEstimator({ atMs: 0, done: 0, total: 100_000 }, options);
    const at = run(estimator, { atMs: 0, done: 0, total: 100_000 }, 10_000, 1000);
    for (let t = at.atMs + 500; t <= at.atMs + 4500; t += 500) estimator.observe(t, at.done, 100_000);
    expect(estimator.estimate(at.atMs + 4500).timeLeft.kind).toBe('left');
    estimator.observe(at.atMs + 5000, at.done, 100_000);
    const stalled = estimator.estimate(at.atMs + 5000);
    expect(stalled.timeLeft).toEqual({ kind: 'stalled', forMs: 5000 });
    expect(stalled.perSecond).toBeCloseTo(1000 * Math.pow(2, -0.5), 6);
  });

  it('counts the time since the last observation as no progress', () => {
    const estimator = new ProgressEstimator({ atMs: 0, done: 0, total: 100_000 }, options);
    const at = run(estimator, { atMs: 0, done: 0, total: 100_000 }, 10_000, 1000);
    expect(estimator.estimate(at.atMs + 10_000).perSecond).toBeCloseTo(500, 6);
  });

  it('catching up while the total grows: the time left is the remainder over the rate at which it shrinks', () => {
    // Stores 3,000/s while peers add 1,000/s: the remainder shrinks at 2,000/s.
    const estimator = new ProgressEstimator({ atMs: 0, done: 0, total: 100_000 }, options);
    const at = run(estimator, { atMs: 0, done: 0, total: 100_000 }, 20_000, 3000, 500, 1000);
    const estimate = estimator.estimate(at.atMs);
    expect(estimate.perSecond).toBeCloseTo(3000, 6);
    const remaining = at.total - at.done; // 120,000 - 60,000
    expect(remaining).toBe(60_000);
    expect(leftMs(estimate)).toBeCloseTo(30_000, 3);
  });

  it('says "not catching up" when the total grows as fast as the node stores', () => {
    const estimator = new ProgressEstimator({ atMs: 0, done: 0, total: 100_000 }, options);
    const at = run(estimator, { atMs: 0, done: 0, total: 100_000 }, 20_000, 1000, 500, 1500);
    const estimate = estimator.estimate(at.atMs);
    expect(estimate.timeLeft.kind).toBe('not-catching-up');
    expect(estimate.timeLeft.kind === 'not-catching-up' && estimate.timeLeft.totalPerSecond).toBeCloseTo(1500, 6);
  });

  it('gives a rate without a time left while the total is unknown, and nothing left once done', () => {
    const paging = new ProgressEstimator({ atMs: 0, done: 0, total: undefined }, options);
    for (let t = 1000; t <= 10_000; t += 1000) paging.observe(t, t / 10);
    expect(paging.estimate(10_000)).toEqual({ perSecond: expect.closeTo(100, 6), timeLeft: { kind: 'unknown-total' } });

    const finished = new ProgressEstimator({ atMs: 0, done: 0, total: 10 }, options);
    finished.observe(100, 10, 10);
    expect(finished.estimate(100).timeLeft).toEqual({ kind: 'done' });
  });

  it('merges observations at the same time into the next interval instead of dividing by zero', () => {
    const estimator = new ProgressEstimator({ atMs: 0, done: 0, total: 100_000 }, options);
    const at = run(estimator, { atMs: 0, done: 0, total: 100_000 }, 10_000, 1000);
    estimator.observe(at.atMs, at.done + 500, 100_000); // same instant
    estimator.observe(at.atMs + 500, at.done + 1000, 100_000); // 1,000 over 500 ms: 2,000/s for the interval
    const keep = Math.pow(2, -500 / 10_000);
    expect(estimator.estimate(at.atMs + 500).perSecond).toBeCloseTo(1000 * keep + 2000 * (1 - keep), 6);
  });
});

describe('formatTimeLeft: no more digits than an estimate is worth', () => {
  it.each([
    [400, '~5s'],
    [5000, '~5s'],
    [41_000, '~45s'],
    [58_000, '~1m'],
    [199_000, '~3m20s'],
    [595_000, '~10m'],
    [2_501_000, '~42m'],
    [161_340_000, '~1d21h'], // the "44h49m" a wrong rate gave
    [3 * 3_600_000 + 61_000, '~3h10m'],
    [86_400_000, '~1d'],
  ])('%i ms -> %s', (ms, shown) => {
    expect(formatTimeLeft(ms)).toBe(shown);
  });
});

describe('formatElapsed', () => {
  it.each([
    [830, '0.8s'],
    [12_400, '12s'],
    [185_000, '3m05s'],
    [3_720_000, '1h02m'],
  ])('%i ms -> %s', (ms, shown) => {
    expect(formatElapsed(ms)).toBe(shown);
  });
});
