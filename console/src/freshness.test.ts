import { describe, expect, it } from 'vitest';
import { formatDurationMs, freshnessOf, freshnessWarnFraction } from './freshness.js';

// The overview's colours: red is the node's verdict (stale, or never heard) or a budget passed;
// yellow once less than freshnessWarnFraction of the budget is left.

describe('member freshness colours', () => {
  const budgetMs = 30_000;
  it('is green with most of the budget left, and says how much', () => {
    expect(freshnessOf(1_000, budgetMs, false)).toEqual({ colour: 'green', leftMs: 29_000 });
  });
  it('turns yellow when less than the warning share is left', () => {
    const ageMs = budgetMs * (1 - freshnessWarnFraction) + 1;
    expect(freshnessOf(ageMs, budgetMs, false)).toEqual({ colour: 'yellow', leftMs: budgetMs - ageMs });
    expect(freshnessOf(budgetMs * (1 - freshnessWarnFraction) - 1, budgetMs, false).colour).toBe('green');
  });
  it('is red when the node says stale, when never heard, and from the budget on', () => {
    expect(freshnessOf(1_000, budgetMs, true)).toEqual({ colour: 'red', leftMs: 0 });
    expect(freshnessOf(-1, budgetMs, false)).toEqual({ colour: 'red', leftMs: 0 });
    expect(freshnessOf(budgetMs, budgetMs, false)).toEqual({ colour: 'red', leftMs: 0 });
  });
  it('says durations the way people read them', () => {
    expect([999, 1_234, 75_000, 3_720_000].map(formatDurationMs)).toEqual(['999 ms', '1.2 s', '1 min 15 s', '1 h 2 min']);
  });
});
