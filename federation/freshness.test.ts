import { describe, expect, it } from 'vitest';
import { freshness, judgeFreshness } from './freshness.js';

const self = 'aa';
const member = 'bb';
const budgetMs = 30_000;
const nowMs = 1_750_000_000_000;

describe('freshness', () => {
  it('is fresh up to the budget, stale past it, and says when the breach comes or came', () => {
    expect(judgeFreshness({ nodeId: member, signedAtMs: nowMs - 1_000 }, self, nowMs, budgetMs)).toEqual({ state: 'fresh', ageMs: 1_000, breachAtMs: nowMs + 29_000 });
    expect(judgeFreshness({ nodeId: member, signedAtMs: nowMs - budgetMs }, self, nowMs, budgetMs)).toEqual({ state: 'fresh', ageMs: budgetMs, breachAtMs: nowMs });
    expect(judgeFreshness({ nodeId: member, signedAtMs: nowMs - budgetMs - 1 }, self, nowMs, budgetMs)).toEqual({ state: 'stale', ageMs: budgetMs + 1, breachAtMs: nowMs - 1 });
  });

  it('is unknown, not fresh, while no head has been heard (after a restart)', () => {
    expect(judgeFreshness({ nodeId: member, signedAtMs: undefined }, self, nowMs, budgetMs)).toEqual({ state: 'unknown', ageMs: undefined, breachAtMs: undefined });
  });

  it("keeps this node's own log fresh, whatever its head's signing time", () => {
    for (const signedAtMs of [undefined, nowMs - 10 * budgetMs]) {
      expect(judgeFreshness({ nodeId: self, signedAtMs }, self, nowMs, budgetMs)).toEqual({ state: 'fresh', ageMs: 0, breachAtMs: undefined });
    }
  });

  it('never reports a negative age for a head signed ahead of this clock', () => {
    expect(judgeFreshness({ nodeId: member, signedAtMs: nowMs + 5_000 }, self, nowMs, budgetMs)).toEqual({ state: 'fresh', ageMs: 0, breachAtMs: nowMs + 35_000 });
  });

  it('marks every member that is not fresh as stale in an answer', () => {
    const logs = [
      { nodeId: self, storedSeq: 4, signedAtMs: undefined },
      { nodeId: member, storedSeq: 7, signedAtMs: nowMs - 100 },
      { nodeId: 'cc', storedSeq: 2, signedAtMs: nowMs - budgetMs - 100 },
      { nodeId: 'dd', storedSeq: 0, signedAtMs: undefined },
    ];
    const answer = freshness({ nodeId: self, logs: () => logs }, nowMs, budgetMs);
    expect(answer.map((f) => [f.nodeId, f.storedSeq, f.state, f.stale])).toEqual([
      [self, 4, 'fresh', false],
      [member, 7, 'fresh', false],
      ['cc', 2, 'stale', true],
      ['dd', 0, 'unknown', true],
    ]);
  });
});
