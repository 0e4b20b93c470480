import {
  CreditIndicatorKind,
  CreditRole,
  HonourKind,
  MisconductSeverity,
  PerformanceGrade,
  RatingGrade,
  type CreditRecordHeader,
  type Record,
} from '../../gen/tongxing/records/v1/records.js';
import { hlcWallMs } from '../log/hlc.js';
import type { Provenance } from '../views/provenance.js';
import type { Sanction } from '../views/sanction.js';

// What the index is computed from: a subject's credit records (with their
// lift, if any) and its sanctions, each with where it stands in its author's
// log. The index never looks further than these facts and the day.

type Kind = NonNullable<Record['kind']>;
export type CreditCase = 'performanceEvaluation' | 'venueMisconduct' | 'mutualEvaluation' | 'thirdPartyRating' | 'honourEntry';
export type CreditKind = Extract<Kind, { $case: CreditCase }>;
export type CreditLiftKind = Extract<Kind, { $case: 'creditLift' }>;

export const creditCases: ReadonlySet<string> = new Set<CreditCase>(['performanceEvaluation', 'venueMisconduct', 'mutualEvaluation', 'thirdPartyRating', 'honourEntry']);

export const isCreditKind = (kind: Kind | undefined): kind is CreditKind => kind !== undefined && creditCases.has(kind.$case);

export interface CreditLiftFact {
  readonly effectiveAtMs: number;
  readonly at: Provenance;
  readonly reason: number; // LiftReason
}

export interface CreditFact {
  readonly at: Provenance;
  readonly record: CreditKind;
  /** The author's lift of this record, if one was recorded. */
  readonly lift?: CreditLiftFact;
}

/** A sanction on the subject, as the views hold it (a lift only from its issuer). */
export interface SanctionFact {
  readonly at: Provenance;
  readonly sanctionId: string;
  readonly listType: number;
  readonly restrictionFromMs: number;
  readonly restrictionUntilMs: number;
  readonly lift?: { readonly effectiveAtMs: number; readonly at: Provenance };
}

export const headerOf = (record: CreditKind): CreditRecordHeader => record.value.header!;

/** The indicator that scores a record and the number its points table is indexed by. */
export function indicatorOf(record: CreditKind): { indicator: CreditIndicatorKind; value: number } {
  switch (record.$case) {
    case 'performanceEvaluation':
      return { indicator: CreditIndicatorKind.CREDIT_INDICATOR_KIND_PERFORMANCE, value: record.value.grade };
    case 'venueMisconduct':
      return { indicator: CreditIndicatorKind.CREDIT_INDICATOR_KIND_MISCONDUCT, value: record.value.severity };
    case 'mutualEvaluation':
      return { indicator: CreditIndicatorKind.CREDIT_INDICATOR_KIND_MUTUAL, value: record.value.stars };
    case 'thirdPartyRating':
      return { indicator: CreditIndicatorKind.CREDIT_INDICATOR_KIND_THIRD_PARTY, value: record.value.grade };
    case 'honourEntry':
      return { indicator: CreditIndicatorKind.CREDIT_INDICATOR_KIND_HONOUR, value: record.value.kind };
  }
}

const enumName = (names: object, value: number, prefix: string): string =>
  ((names as { [v: number]: string })[value] ?? String(value)).replace(prefix, '').toLowerCase().replace(/_/g, ' ');

export const roleName = (role: CreditRole): string => enumName(CreditRole, role, 'CREDIT_ROLE_');

/** What the record says, for an explanation: "performance evaluation excellent in project P-1". */
export function describeRecord(record: CreditKind): string {
  const header = headerOf(record);
  const project = header.projectCode !== '' ? ` in project ${header.projectCode}` : '';
  switch (record.$case) {
    case 'performanceEvaluation':
      return `performance evaluation (履约评价) ${enumName(PerformanceGrade, record.value.grade, 'PERFORMANCE_GRADE_')}${project}`;
    case 'venueMisconduct':
      return `venue misconduct (场内不规范行为), ${enumName(MisconductSeverity, record.value.severity, 'MISCONDUCT_SEVERITY_')}: ${record.value.behaviour}${project}`;
    case 'mutualEvaluation':
      return `mutual evaluation (互评) ${record.value.stars} star(s) by ${roleName(record.value.raterRole)} ${record.value.rater?.id?.value ?? '?'}${project}`;
    case 'thirdPartyRating':
      return `third-party rating (第三方评价) ${enumName(RatingGrade, record.value.grade, 'RATING_GRADE_').toUpperCase()} by ${record.value.ratingAgency}`;
    case 'honourEntry':
      return `${record.value.kind === HonourKind.HONOUR_KIND_RED_LIST ? 'red list (红名单)' : 'award (表彰)'}: ${record.value.title}${project}`;
  }
}

/** A sanction from the views as the index reads it. */
export function sanctionFactOf(sanction: Sanction, quorumLiftHlc?: bigint): SanctionFact {
  const period = sanction.issue.restrictionPeriod!;
  const own = sanction.lift && { effectiveAtMs: Number(sanction.lift.lift.effectiveAtMs), at: sanction.lift.lifted };
  // A quorum's lift (governance) takes effect at the wall time of the approval that completed it.
  const quorum = quorumLiftHlc === undefined ? undefined : { effectiveAtMs: hlcWallMs(quorumLiftHlc), at: { author: '', seq: 0, hlc: quorumLiftHlc.toString() } };
  const lift = own && quorum ? (quorum.effectiveAtMs < own.effectiveAtMs ? quorum : own) : (own ?? quorum);
  return {
    at: sanction.issued,
    sanctionId: sanction.issue.sanctionId,
    listType: sanction.issue.listType,
    restrictionFromMs: Number(period.fromMs),
    restrictionUntilMs: Number(period.untilMs),
    lift,
  };
}
