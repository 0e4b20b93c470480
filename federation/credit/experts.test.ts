import { describe, expect, it } from 'vitest';
import { Exclusion, MisconductSeverity, type Record } from '../../gen/tongxing/records/v1/records.js';
import { candidatesFor } from '../experts/eligibility.js';
import { homeA, homeB, worldEntries } from '../experts/testing.js';
import { buildWorld } from '../experts/world.js';
import { evaluationSession, expertAvailabilityRecord, expertProfileRecord } from '../testing/records.js';
import { cutoffMs, dayMs, dayOf } from './day.js';
import { lowCredit } from './experts.js';
import { defaultCreditPolicy } from './method.js';
import { creditLiftRecord, misconductRecord } from './testing.js';

// Experts with low credit are paused from draws (暂停抽取), by the world a draw
// is computed from: hand-computed with the default method (base 80.00,
// serious misconduct -8.00 decaying over 365 days, threshold 60.00).

const slotFrom = Date.UTC(2026, 5, 10, 1);
const recordedFrom = cutoffMs(dayOf(slotFrom)) - 10 * dayMs; // ten whole days before the slot day's cut-off

function expert(ref: string): Array<readonly [string, Record]> {
  return [
    [homeB, expertProfileRecord(ref, { regionCode: '520100' })],
    [homeB, expertAvailabilityRecord(ref, [[Date.UTC(2026, 5, 1), Date.UTC(2026, 6, 1)]])],
  ];
}
const serious = (id: string, ref: string): readonly [string, Record] => [homeA, misconductRecord(id, { expertRef: ref }, recordedFrom, MisconductSeverity.MISCONDUCT_SEVERITY_SERIOUS)];

describe('experts paused for low credit', () => {
  const session = evaluationSession(slotFrom, { hostRegionCode: '530100' });
  const records = [
    ...expert('gy.ok'),
    ...expert('gy.low'),
    ...expert('gy.repaired'),
    // -800 * 355 / 365 = -778.08 -> -778 each: three give 80.00 - 23.34 = 56.66, under 60.
    serious('A-1', 'gy.low'),
    serious('A-2', 'gy.low'),
    serious('A-3', 'gy.low'),
    serious('A-4', 'gy.repaired'),
    serious('A-5', 'gy.repaired'),
    serious('A-6', 'gy.repaired'),
    // Repaired before the slot's day by its author: two left, 80.00 - 15.56 = 64.44. A lift by another member counts for nothing.
    [homeA, creditLiftRecord('A-6', recordedFrom + dayMs)] as const,
    [homeB, creditLiftRecord('A-5', recordedFrom + dayMs)] as const,
  ];

  it('excludes an expert whose index on the slot day is under the threshold, and only it', () => {
    const world = buildWorld(worldEntries(records));
    const [list] = candidatesFor(session, world);
    expect(list!.candidates).toEqual(['gy.ok', 'gy.repaired']);
    expect(list!.excluded).toEqual([{ expertRef: 'gy.low', reason: Exclusion.EXCLUSION_LOW_CREDIT }]);
    expect(lowCredit(world.experts.get('gy.low')!, slotFrom, defaultCreditPolicy)?.indexHundredths).toBe(5666);
    expect(lowCredit(world.experts.get('gy.repaired')!, slotFrom, defaultCreditPolicy)).toBeUndefined();
  });

  it('pauses no one under a policy without a threshold', () => {
    const world = buildWorld(worldEntries(records), { ...defaultCreditPolicy, version: 2, expertThresholdHundredths: 0 });
    expect(candidatesFor(session, world)[0]!.excluded).toEqual([]);
  });
});
