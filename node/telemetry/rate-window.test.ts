import { describe, expect, it } from 'vitest';
import { RateWindow } from './rate-window.js';

describe('ingest rate', () => {
  it('counts entries per second over the window, whole seconds, fixed memory', () => {
    let now = 1_000_000;
    const rate = new RateWindow(60_000, () => now);
    expect(rate.perSecond()).toBe(0);
    rate.add(30);
    now += 2_000;
    rate.add(30);
    expect(rate.perSecond()).toBe(30); // 60 entries in the 2 s since start
    now += 58_000;
    expect(rate.perSecond()).toBe(0.5); // the window is full: 30 of them in the last 60 s
    now += 60_000;
    expect(rate.perSecond()).toBe(0);
  });
});
