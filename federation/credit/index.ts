import { CreditIndicatorKind, ListType, type CreditIndicator, type CreditPolicy } from '../../gen/tongxing/records/v1/records.js';
import { assert } from '../errors.js';
import { hlcWallMs } from '../log/hlc.js';
import { compareProvenance, type Provenance } from '../views/provenance.js';
import { cutoffMs, wholeDays } from './day.js';
import { describeRecord, headerOf, indicatorOf, type CreditFact, type SanctionFact } from './facts.js';
import { clamp, formatHundredths, scale } from './fixed.js';

// The credit index (信用指数) of one subject on one day: a pure function of the
// subject's credit records and sanctions, the day and the alliance's credit
// policy. Same facts, same day, same policy: the same number on every node, in
// any order the facts arrive (they are sorted by provenance first), and with
// integers only (fixed.ts). docs/DOMAIN.md, "Credit index", states the method:
//
//   visible   recorded (entry clock) before the day's cut-off, 00:00 CST;
//   counts    the cut-off lies in the record period [from, until), and no lift
//             recorded before the cut-off took effect at or before it; a
//             mutual evaluation counts once per (rater, subject, transaction);
//             a sanction counts while its restriction covers the cut-off;
//   points    the method's points for its grade / severity / stars / kind /
//             list type, decayed linearly over decay_days from the period start;
//   indicator the points summed, clamped to [cap_low, cap_high], times weight/1000;
//   index     base + the indicators, clamped to [index_min, index_max].

export interface Contribution {
  readonly indicator: CreditIndicatorKind;
  readonly at: Provenance;
  readonly recordId: string;
  readonly pointsHundredths: number;
  readonly fullPointsHundredths: number;
  readonly why: string;
}

export interface IndicatorTotal {
  readonly indicator: CreditIndicatorKind;
  readonly sumHundredths: number;
  readonly cappedHundredths: number;
  readonly weightedHundredths: number;
}

export interface CreditIndexResult {
  readonly day: string;
  readonly cutoffMs: number;
  readonly methodVersion: number;
  readonly baseHundredths: number;
  readonly indexHundredths: number;
  readonly totals: IndicatorTotal[];
  readonly contributions: Contribution[];
}

/** The record's entry time: what "recorded before the cut-off" compares. */
const recordedMs = (at: Provenance): number => hlcWallMs(BigInt(at.hlc));

const listTypeNames: Readonly<Record<number, string>> = {
  [ListType.LIST_TYPE_SERIOUS_DISHONESTY]: 'serious dishonesty list (严重失信)',
  [ListType.LIST_TYPE_BAD_BEHAVIOUR]: 'bad-behaviour record (不良行为)',
  [ListType.LIST_TYPE_WATCH]: 'watch list (重点关注)',
};

interface Scored {
  readonly at: Provenance;
  readonly recordId: string;
  readonly value: number;
  readonly fromMs: number;
  readonly what: string;
}

/** Points of one record after decay, and the clause of its explanation that says how they were reached. */
function decayed(indicator: CreditIndicator, full: number, fromMs: number, cutoff: number): { points: number; how: string } {
  if (indicator.decayDays === 0 || full === 0) return { points: full, how: `${formatHundredths(full)} points` };
  const age = wholeDays(fromMs, cutoff);
  const left = Math.max(0, indicator.decayDays - age);
  const points = scale(full, left, indicator.decayDays);
  return { points, how: `${formatHundredths(full)} points, day ${age} of ${indicator.decayDays} (linear decay): ${formatHundredths(points)}` };
}

/** Credit records that count at `cutoff`, by indicator, in provenance order. */
function countingRecords(facts: readonly CreditFact[], cutoff: number): Map<CreditIndicatorKind, Scored[]> {
  const byIndicator = new Map<CreditIndicatorKind, Scored[]>();
  const rated = new Set<string>();
  for (const fact of [...facts].sort((a, b) => compareProvenance(a.at, b.at))) {
    if (recordedMs(fact.at) >= cutoff) continue;
    const header = headerOf(fact.record);
    const period = header.recordPeriod!;
    if (cutoff < Number(period.fromMs) || cutoff >= Number(period.untilMs)) continue;
    if (fact.lift && recordedMs(fact.lift.at) < cutoff && fact.lift.effectiveAtMs <= cutoff) continue;
    if (fact.record.$case === 'mutualEvaluation') {
      const once = `${fact.record.value.rater?.id?.value}|${header.projectCode}`;
      if (rated.has(once)) continue;
      rated.add(once);
    }
    const { indicator, value } = indicatorOf(fact.record);
    const list = byIndicator.get(indicator) ?? [];
    list.push({ at: fact.at, recordId: header.recordId, value, fromMs: Number(period.fromMs), what: describeRecord(fact.record) });
    byIndicator.set(indicator, list);
  }
  return byIndicator;
}

/** Sanctions whose restriction covers the cut-off, issued and not lifted before it, in provenance order. */
function countingSanctions(sanctions: readonly SanctionFact[], cutoff: number): Scored[] {
  return [...sanctions]
    .sort((a, b) => compareProvenance(a.at, b.at))
    .filter((s) => recordedMs(s.at) < cutoff && cutoff >= s.restrictionFromMs && cutoff < s.restrictionUntilMs)
    .filter((s) => !(s.lift && recordedMs(s.lift.at) < cutoff && s.lift.effectiveAtMs <= cutoff))
    .map((s) => ({ at: s.at, recordId: s.sanctionId, value: s.listType, fromMs: s.restrictionFromMs, what: `sanction on the ${listTypeNames[s.listType] ?? `list type ${s.listType}`}` }));
}

/**
 * The index of the subject whose facts these are, on `day` (YYYY-MM-DD), by
 * `policy`. Throws ValidationError for a malformed day; the facts are the
 * views' (already valid).
 */
export function creditIndex(facts: readonly CreditFact[], sanctions: readonly SanctionFact[], day: string, policy: CreditPolicy): CreditIndexResult {
  const cutoff = cutoffMs(day);
  const method = policy.method!;
  const records = countingRecords(facts, cutoff);
  records.set(CreditIndicatorKind.CREDIT_INDICATOR_KIND_SANCTION, countingSanctions(sanctions, cutoff));
  const totals: IndicatorTotal[] = [];
  const contributions: Contribution[] = [];
  let index = method.baseHundredths;
  for (const indicator of method.indicators) {
    const scored = records.get(indicator.kind) ?? [];
    if (scored.length === 0) continue;
    let sum = 0;
    for (const s of scored) {
      const full = indicator.pointsHundredths[s.value] ?? 0;
      const { points, how } = decayed(indicator, full, s.fromMs, cutoff);
      sum += points;
      contributions.push({ indicator: indicator.kind, at: s.at, recordId: s.recordId, pointsHundredths: points, fullPointsHundredths: full, why: `${s.what}: ${how}` });
    }
    const capped = clamp(sum, indicator.capLowHundredths, indicator.capHighHundredths);
    const weighted = scale(capped, indicator.weightPermille, 1000);
    totals.push({ indicator: indicator.kind, sumHundredths: sum, cappedHundredths: capped, weightedHundredths: weighted });
    index += weighted;
  }
  const indexHundredths = clamp(index, method.indexMinHundredths, method.indexMaxHundredths);
  assert(Number.isSafeInteger(indexHundredths), 'credit index left the exact integer range');
  return { day, cutoffMs: cutoff, methodVersion: policy.version, baseHundredths: method.baseHundredths, indexHundredths, totals, contributions };
}
