import { describe, expect, it } from 'vitest';
import { CreditIndicatorKind, HonourKind, ListType, MisconductSeverity, PerformanceGrade, RatingGrade, type CreditPolicy, type Record } from '../../gen/tongxing/records/v1/records.js';
import { ValidationError } from '../errors.js';
import { hlcPack } from '../log/hlc.js';
import { cutoffMs, dayMs, dayOf } from './day.js';
import { isCreditKind, type CreditFact, type SanctionFact } from './facts.js';
import { formatHundredths, scale } from './fixed.js';
import { creditIndex } from './index.js';
import { bonusBandOf, defaultCreditPolicy, validateCreditPolicy } from './method.js';
import { honourRecord, misconductRecord, mutualRecord, performanceRecord, ratingRecord } from './testing.js';

// Hand-computed cases of the default method (version 1, federation/credit/method.ts):
// base 80.00; each expectation is worked out in its comment.

const day = '2026-03-10';
const cutoff = cutoffMs(day); // 2026-03-09T16:00:00Z
const bidder = { uscc: '91310110666007217T' };
const author = 'a'.repeat(64);
let seq = 0;

const at = (recordedMs: number, who = author) => ({ author: who, seq: ++seq, hlc: hlcPack(recordedMs, 0).toString() });

/** A fact recorded at `recordedMs` (default: when its period starts). */
function fact(record: Record, recordedMs?: number, lift?: { effectiveAtMs: number; recordedMs: number }): CreditFact {
  const kind = record.kind;
  if (!isCreditKind(kind)) throw new Error('not a credit record');
  const fromMs = Number(kind.value.header!.recordPeriod!.fromMs);
  return { at: at(recordedMs ?? fromMs), record: kind, lift: lift && { effectiveAtMs: lift.effectiveAtMs, at: at(lift.recordedMs), reason: 1 } };
}

const index = (facts: CreditFact[], sanctions: SanctionFact[] = [], policy: CreditPolicy = defaultCreditPolicy, on = day) => creditIndex(facts, sanctions, on, policy);

describe('the day and its cut-off', () => {
  it('is 00:00 China Standard Time', () => {
    expect(new Date(cutoff).toISOString()).toBe('2026-03-09T16:00:00.000Z');
    expect(dayOf(cutoff)).toBe(day);
    expect(dayOf(cutoff - 1)).toBe('2026-03-09');
  });

  it('refuses what is not a calendar day, naming the field', () => {
    expect(() => cutoffMs('2026-02-30')).toThrow(ValidationError);
    expect(() => cutoffMs('10/03/2026', 'request.day')).toThrow(/request\.day/);
  });
});

describe('fixed point', () => {
  it('truncates toward zero exactly and never answers -0', () => {
    expect(scale(400, 657, 730)).toBe(360);
    expect(scale(-800, 265, 365)).toBe(-580); // -580.82
    expect(scale(800, 265, 365)).toBe(580);
    expect(Object.is(scale(-1, 1, 3), 0)).toBe(true);
    // Exact where a float quotient would round up: (2^53 - 1) / 1 and a near-integer quotient.
    expect(scale(9_007_199_254_740_991, 1, 1)).toBe(9_007_199_254_740_991);
    expect(scale(999_999_999_999, 1, 1_000_000_000_000)).toBe(0);
    expect(formatHundredths(-150)).toBe('-1.50');
    expect(formatHundredths(8360)).toBe('83.60');
  });
});

describe('creditIndex (default method v1)', () => {
  it('is the base with no records', () => {
    const result = index([]);
    expect(result).toMatchObject({ indexHundredths: 8000, methodVersion: 1, baseHundredths: 8000, cutoffMs: cutoff, contributions: [], totals: [] });
  });

  it('decays a performance evaluation linearly: excellent, 73 of 730 days -> 400 * 657 / 730 = 360', () => {
    const result = index([fact(performanceRecord('P-1', bidder, cutoff - 73 * dayMs, PerformanceGrade.PERFORMANCE_GRADE_EXCELLENT))]);
    expect(result.indexHundredths).toBe(8360);
    expect(result.contributions).toHaveLength(1);
    expect(result.contributions[0]).toMatchObject({ indicator: CreditIndicatorKind.CREDIT_INDICATOR_KIND_PERFORMANCE, recordId: 'P-1', pointsHundredths: 360, fullPointsHundredths: 400 });
    expect(result.contributions[0]!.why).toBe('performance evaluation (履约评价) excellent in project KM-2026-GC-001: 4.00 points, day 73 of 730 (linear decay): 3.60');
  });

  it('counts whole days and truncates: serious misconduct 100.5 days old -> -800 * 265 / 365 = -580.82 -> -580', () => {
    const result = index([fact(misconductRecord('M-1', bidder, cutoff - 100.5 * dayMs, MisconductSeverity.MISCONDUCT_SEVERITY_SERIOUS))]);
    expect(result.indexHundredths).toBe(8000 - 580);
  });

  it('clamps an indicator to its caps: four serious misconducts today, -3200 -> cap -3000', () => {
    const facts = [1, 2, 3, 4].map((n) => fact(misconductRecord(`M-${n}`, bidder, cutoff - 1, MisconductSeverity.MISCONDUCT_SEVERITY_SERIOUS)));
    const result = index(facts);
    expect(result.totals).toEqual([{ indicator: CreditIndicatorKind.CREDIT_INDICATOR_KIND_MISCONDUCT, sumHundredths: -3200, cappedHundredths: -3000, weightedHundredths: -3000 }]);
    expect(result.indexHundredths).toBe(5000);
  });

  it('counts one rating per rater, subject and transaction: the earliest', () => {
    const tenderer = { uscc: '91350100M000100Y43' };
    const early = fact(mutualRecord('R-1', bidder, tenderer, cutoff - 2, 5), cutoff - 2);
    const again = fact(mutualRecord('R-2', bidder, tenderer, cutoff - 1, 1), cutoff - 1);
    const other = fact(mutualRecord('R-3', bidder, tenderer, cutoff - 1, 4, { projectCode: 'KM-2026-GC-002' }), cutoff - 1);
    const result = index([again, other, early]);
    expect(result.contributions.map((c) => [c.recordId, c.pointsHundredths])).toEqual([
      ['R-1', 100],
      ['R-3', 50],
    ]);
    expect(result.indexHundredths).toBe(8150);
  });

  it('sees only records recorded before the cut-off', () => {
    const before = fact(honourRecord('H-1', bidder, cutoff - dayMs, HonourKind.HONOUR_KIND_RED_LIST), cutoff - 1);
    const atCutoff = fact(honourRecord('H-2', bidder, cutoff - dayMs, HonourKind.HONOUR_KIND_AWARD), cutoff);
    // Red list +3.00, one day of 1095 decayed: 300 * 1094 / 1095 = 299.72 -> 299.
    expect(index([before, atCutoff]).indexHundredths).toBe(8299);
    expect(index([before, atCutoff], [], defaultCreditPolicy, '2026-03-11').contributions.map((c) => c.recordId)).toEqual(['H-1', 'H-2']);
  });

  it('counts a record inside its record period only: from the day it starts, not on the day it ends', () => {
    const starts = fact(ratingRecord('T-1', bidder, cutoff, RatingGrade.RATING_GRADE_AAA, { days: 365 }), cutoff - dayMs);
    const ended = fact(ratingRecord('T-2', bidder, cutoff - 365 * dayMs, RatingGrade.RATING_GRADE_C, { days: 365 }));
    const result = index([starts, ended]);
    expect(result.contributions.map((c) => c.recordId)).toEqual(['T-1']);
    expect(result.indexHundredths).toBe(8500); // AAA +5.00, no decay for ratings
    expect(index([starts, ended], [], defaultCreditPolicy, '2026-03-09').contributions.map((c) => c.recordId)).toEqual(['T-2']);
  });

  it('drops a lifted record from the day its lift takes effect, once the lift is recorded', () => {
    const record = misconductRecord('M-9', bidder, cutoff - 10 * dayMs, MisconductSeverity.MISCONDUCT_SEVERITY_GENERAL);
    // General -3.00, 10 of 365 days: -300 * 355 / 365 = -291.78 -> -291.
    expect(index([fact(record)]).indexHundredths).toBe(8000 - 291);
    expect(index([fact(record, undefined, { effectiveAtMs: cutoff, recordedMs: cutoff - 5 })]).indexHundredths).toBe(8000);
    // Recorded after the cut-off: the day still counts the record; the next day does not.
    const late = fact(record, undefined, { effectiveAtMs: cutoff - dayMs, recordedMs: cutoff + 1 });
    expect(index([late]).indexHundredths).toBe(8000 - 291);
    expect(index([late], [], defaultCreditPolicy, '2026-03-11').indexHundredths).toBe(8000);
  });

  it('deducts an active sanction by list type until it ends or is lifted', () => {
    const sanction: SanctionFact = { at: at(cutoff - 30 * dayMs), sanctionId: 'S-1', listType: ListType.LIST_TYPE_SERIOUS_DISHONESTY, restrictionFromMs: cutoff - 30 * dayMs, restrictionUntilMs: cutoff + dayMs };
    expect(index([], [sanction]).indexHundredths).toBe(4000);
    expect(index([], [sanction], defaultCreditPolicy, '2026-03-11').indexHundredths).toBe(8000);
    expect(index([], [{ ...sanction, lift: { effectiveAtMs: cutoff - 1, at: at(cutoff - 1) } }]).indexHundredths).toBe(8000);
    expect(index([], [{ ...sanction, listType: ListType.LIST_TYPE_WATCH }]).contributions[0]!.pointsHundredths).toBe(0);
  });

  it('weights the clamped sum and clamps the index to the method range', () => {
    const policy: CreditPolicy = {
      ...defaultCreditPolicy,
      version: 2,
      method: { ...defaultCreditPolicy.method!, baseHundredths: 9900, indicators: defaultCreditPolicy.method!.indicators.map((i) => ({ ...i, weightPermille: 1500 })) },
    };
    // AAA +5.00 * 1.5 = 7.50 -> 99.00 + 7.50 = 106.50 -> clamped to 100.00.
    const result = index([fact(ratingRecord('T-1', bidder, cutoff - dayMs, RatingGrade.RATING_GRADE_AAA))], [], policy);
    expect(result.totals[0]!.weightedHundredths).toBe(750);
    expect(result.indexHundredths).toBe(10000);
    expect(result.methodVersion).toBe(2);
  });

  it('does not depend on the order the facts come in', () => {
    const facts = [
      fact(performanceRecord('P-1', bidder, cutoff - 40 * dayMs, PerformanceGrade.PERFORMANCE_GRADE_UNQUALIFIED)),
      fact(misconductRecord('M-1', bidder, cutoff - 3 * dayMs, MisconductSeverity.MISCONDUCT_SEVERITY_MINOR)),
      fact(honourRecord('H-1', bidder, cutoff - 400 * dayMs, HonourKind.HONOUR_KIND_AWARD)),
      fact(ratingRecord('T-1', bidder, cutoff - 9 * dayMs, RatingGrade.RATING_GRADE_BBB)),
    ];
    const forward = index(facts);
    expect(index([...facts].reverse())).toEqual(forward);
    // -600 * 690/730 = -567.12 -> -567; -100 * 362/365 = -99.18 -> -99; +200 * 695/1095 = 126.94 -> 126; +100.
    expect(forward.indexHundredths).toBe(8000 - 567 - 99 + 126 + 100);
  });
});

describe('bonus bands and the policy', () => {
  it('maps an index to the highest band it reaches', () => {
    expect(bonusBandOf(defaultCreditPolicy, 5999)?.pointsHundredths).toBe(-200);
    expect(bonusBandOf(defaultCreditPolicy, 6000)?.pointsHundredths).toBe(0);
    expect(bonusBandOf(defaultCreditPolicy, 9500)?.pointsHundredths).toBe(200);
    expect(bonusBandOf({ ...defaultCreditPolicy, bonusBands: [{ minIndexHundredths: 5000, pointsHundredths: 100 }] }, 4999)).toBeUndefined();
  });

  it('accepts the default and names the field of a broken policy', () => {
    expect(() => validateCreditPolicy(defaultCreditPolicy, 'policy')).not.toThrow();
    const method = defaultCreditPolicy.method!;
    const broken = (change: Partial<CreditPolicy>) => () => validateCreditPolicy({ ...defaultCreditPolicy, ...change }, 'policy');
    expect(broken({ version: 0 })).toThrow('policy.version: must be at least 1');
    expect(broken({ method: { ...method, baseHundredths: 20000 } })).toThrow(/policy\.method\.baseHundredths: 20000 is outside/);
    expect(broken({ method: { ...method, indicators: [...method.indicators, method.indicators[0]!] } })).toThrow(/policy\.method\.indicators\[6\]\.kind: duplicate of policy\.method\.indicators\[0\]\.kind/);
    expect(broken({ method: { ...method, indicators: [{ ...method.indicators[0]!, pointsHundredths: [0, 1, 2, 3, 4, 5] }] } })).toThrow(/pointsHundredths: 6 values, at most 5/);
    expect(broken({ method: { ...method, indicators: [{ ...method.indicators[0]!, pointsHundredths: [0, 0.5] }] } })).toThrow(/pointsHundredths\[1\]: 0.5 is not an integer/);
    expect(broken({ bonusBands: [{ minIndexHundredths: 10, pointsHundredths: 0 }, { minIndexHundredths: 10, pointsHundredths: 1 }] })).toThrow(/bonusBands\[1\]\.minIndexHundredths/);
  });
});
