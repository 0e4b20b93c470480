import {
  CreditIndicatorKind,
  HonourKind,
  ListType,
  MisconductSeverity,
  PerformanceGrade,
  RatingGrade,
  type CreditIndicator,
  type CreditPolicy,
} from '../../gen/tongxing/records/v1/records.js';
import { ValidationError } from '../errors.js';
import { creditDecayDaysMax, creditIndexHundredthsMax, creditPointsHundredthsMax, creditWeightPermilleMax, listItemsMax } from '../limits.js';

// The credit method is alliance policy data (CreditPolicy), changed by quorum
// like the recognition policy and versioned: every index answer names the
// version it was computed by. Until the alliance adopts one, the genesis
// default below is in force (version 1; docs/DOMAIN.md, "Credit index":
// every number in it is *inferred*, no public formula exists).

const indicator = (kind: CreditIndicatorKind, points: number[], decayDays: number, capLow: number, capHigh: number): CreditIndicator => ({
  kind,
  pointsHundredths: points,
  decayDays,
  capLowHundredths: capLow,
  capHighHundredths: capHigh,
  weightPermille: 1000,
});

/** The genesis default (version 1). Points in hundredths, indexed by the record's grade / severity / stars / kind / list type. */
export const defaultCreditPolicy: CreditPolicy = {
  version: 1,
  method: {
    baseHundredths: 8000,
    indexMinHundredths: 0,
    indexMaxHundredths: 10000,
    indicators: [
      // 履约评价: excellent +4, good +2, qualified 0, unqualified -6; fades over two years.
      indicator(CreditIndicatorKind.CREDIT_INDICATOR_KIND_PERFORMANCE, [0, 400, 200, 0, -600], 730, -2000, 800),
      // 场内不规范行为: minor -1, general -3, serious -8; fades over one year.
      indicator(CreditIndicatorKind.CREDIT_INDICATOR_KIND_MISCONDUCT, [0, -100, -300, -800], 365, -3000, 0),
      // 互评: 1 star -1 ... 3 stars 0 ... 5 stars +1; fades over one year.
      indicator(CreditIndicatorKind.CREDIT_INDICATOR_KIND_MUTUAL, [0, -100, -50, 0, 50, 100], 365, -500, 500),
      // 第三方评价: AAA +5, AA +4, A +3, BBB +1, BB 0, B -2, C -5; valid for its record period, no decay.
      indicator(CreditIndicatorKind.CREDIT_INDICATOR_KIND_THIRD_PARTY, [0, 500, 400, 300, 100, 0, -200, -500], 0, -500, 500),
      // 红名单 +3, 表彰 +2; fades over three years.
      indicator(CreditIndicatorKind.CREDIT_INDICATOR_KIND_HONOUR, [0, 300, 200], 1095, 0, 600),
      // Sanctions active at the cut-off: serious dishonesty -40, bad behaviour -15, watch list 0.
      indicator(CreditIndicatorKind.CREDIT_INDICATOR_KIND_SANCTION, [0, -4000, -1500, 0], 0, -6000, 0),
    ],
  },
  // Below 60: -2 points in evaluation; 60-84.99: none; 85-94.99: +1; 95 and above: +2.
  bonusBands: [
    { minIndexHundredths: 0, pointsHundredths: -200 },
    { minIndexHundredths: 6000, pointsHundredths: 0 },
    { minIndexHundredths: 8500, pointsHundredths: 100 },
    { minIndexHundredths: 9500, pointsHundredths: 200 },
  ],
  // Experts under 60 are paused from draws (暂停抽取).
  expertThresholdHundredths: 6000,
};

/** How many values each indicator's points table may have: its enum's numbers (0 unused). */
const tableSizes: Readonly<Record<number, number>> = {
  [CreditIndicatorKind.CREDIT_INDICATOR_KIND_PERFORMANCE]: PerformanceGrade.PERFORMANCE_GRADE_UNQUALIFIED + 1,
  [CreditIndicatorKind.CREDIT_INDICATOR_KIND_MISCONDUCT]: MisconductSeverity.MISCONDUCT_SEVERITY_SERIOUS + 1,
  [CreditIndicatorKind.CREDIT_INDICATOR_KIND_MUTUAL]: 6, // stars 1..5
  [CreditIndicatorKind.CREDIT_INDICATOR_KIND_THIRD_PARTY]: RatingGrade.RATING_GRADE_C + 1,
  [CreditIndicatorKind.CREDIT_INDICATOR_KIND_HONOUR]: HonourKind.HONOUR_KIND_AWARD + 1,
  [CreditIndicatorKind.CREDIT_INDICATOR_KIND_SANCTION]: ListType.LIST_TYPE_WATCH + 1,
};

function requireHundredths(value: number, field: string, max: number): void {
  if (!Number.isInteger(value)) throw new ValidationError(field, `${value} is not an integer`);
  if (Math.abs(value) > max) throw new ValidationError(field, `${value} is beyond ±${max} hundredths`);
}

/**
 * A policy every node can compute with: integers within the named bounds (so no
 * product leaves the exact range of a double), a range that holds the base,
 * each indicator kind once with a points table of its enum's size, bands in
 * ascending order. Throws ValidationError naming the field.
 */
export function validateCreditPolicy(policy: CreditPolicy, field: string): void {
  if (policy.version < 1) throw new ValidationError(`${field}.version`, 'must be at least 1');
  const method = policy.method;
  if (!method) throw new ValidationError(`${field}.method`, 'missing');
  const at = `${field}.method`;
  requireHundredths(method.baseHundredths, `${at}.baseHundredths`, creditIndexHundredthsMax);
  requireHundredths(method.indexMinHundredths, `${at}.indexMinHundredths`, creditIndexHundredthsMax);
  requireHundredths(method.indexMaxHundredths, `${at}.indexMaxHundredths`, creditIndexHundredthsMax);
  if (method.indexMaxHundredths <= method.indexMinHundredths) throw new ValidationError(`${at}.indexMaxHundredths`, `${method.indexMaxHundredths} is not above indexMinHundredths ${method.indexMinHundredths}`);
  if (method.baseHundredths < method.indexMinHundredths || method.baseHundredths > method.indexMaxHundredths) {
    throw new ValidationError(`${at}.baseHundredths`, `${method.baseHundredths} is outside [${method.indexMinHundredths}, ${method.indexMaxHundredths}]`);
  }
  if (method.indicators.length === 0) throw new ValidationError(`${at}.indicators`, 'missing');
  const seen = new Map<number, number>();
  method.indicators.forEach((ind, i) => {
    const f = `${at}.indicators[${i}]`;
    const size = tableSizes[ind.kind];
    if (size === undefined) throw new ValidationError(`${f}.kind`, ind.kind === 0 ? 'unspecified' : `unknown value ${ind.kind}`);
    const first = seen.get(ind.kind);
    if (first !== undefined) throw new ValidationError(`${f}.kind`, `duplicate of ${at}.indicators[${first}].kind`);
    seen.set(ind.kind, i);
    if (ind.pointsHundredths.length > size) throw new ValidationError(`${f}.pointsHundredths`, `${ind.pointsHundredths.length} values, at most ${size} for ${CreditIndicatorKind[ind.kind]}`);
    ind.pointsHundredths.forEach((p, j) => requireHundredths(p, `${f}.pointsHundredths[${j}]`, creditPointsHundredthsMax));
    if ((ind.pointsHundredths[0] ?? 0) !== 0) throw new ValidationError(`${f}.pointsHundredths[0]`, 'must be 0 (no record has value 0)');
    if (ind.decayDays > creditDecayDaysMax) throw new ValidationError(`${f}.decayDays`, `${ind.decayDays} days, at most ${creditDecayDaysMax}`);
    requireHundredths(ind.capLowHundredths, `${f}.capLowHundredths`, creditIndexHundredthsMax);
    requireHundredths(ind.capHighHundredths, `${f}.capHighHundredths`, creditIndexHundredthsMax);
    if (ind.capHighHundredths < ind.capLowHundredths) throw new ValidationError(`${f}.capHighHundredths`, `${ind.capHighHundredths} is below capLowHundredths ${ind.capLowHundredths}`);
    if (ind.weightPermille > creditWeightPermilleMax) throw new ValidationError(`${f}.weightPermille`, `${ind.weightPermille}, at most ${creditWeightPermilleMax}`);
  });
  if (policy.bonusBands.length > listItemsMax) throw new ValidationError(`${field}.bonusBands`, `${policy.bonusBands.length} items, at most ${listItemsMax}`);
  policy.bonusBands.forEach((band, i) => {
    requireHundredths(band.minIndexHundredths, `${field}.bonusBands[${i}].minIndexHundredths`, creditIndexHundredthsMax);
    requireHundredths(band.pointsHundredths, `${field}.bonusBands[${i}].pointsHundredths`, creditPointsHundredthsMax);
    const previous = policy.bonusBands[i - 1];
    if (previous && band.minIndexHundredths <= previous.minIndexHundredths) {
      throw new ValidationError(`${field}.bonusBands[${i}].minIndexHundredths`, `${band.minIndexHundredths} is not above the previous band's ${previous.minIndexHundredths}`);
    }
  });
  requireHundredths(policy.expertThresholdHundredths, `${field}.expertThresholdHundredths`, creditIndexHundredthsMax);
}

/** The bonus band an index falls in: the highest band whose min it reaches, if any. */
export function bonusBandOf(policy: CreditPolicy, indexHundredths: number): { minIndexHundredths: number; pointsHundredths: number } | undefined {
  let band;
  for (const b of policy.bonusBands) if (indexHundredths >= b.minIndexHundredths) band = b;
  return band;
}

/** Whether an expert with this index is paused from draws (a threshold of 0 pauses no one). */
export const belowExpertThreshold = (policy: CreditPolicy, indexHundredths: number): boolean =>
  policy.expertThresholdHundredths !== 0 && indexHundredths < policy.expertThresholdHundredths;
