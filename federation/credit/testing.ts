import {
  CreditRole,
  HonourKind,
  LiftReason,
  MisconductSeverity,
  PerformanceGrade,
  RatingGrade,
  type CreditRecordHeader,
  type Record,
  type SanctionSubject,
} from '../../gen/tongxing/records/v1/records.js';
import { sanction } from '../testing/records.js';
import { dayMs } from './day.js';

// Valid credit records for tests, benchmarks and the simulator.

export type Subject = { readonly uscc: string } | { readonly expertRef: string };

export function creditSubject(subject: Subject): SanctionSubject {
  return 'uscc' in subject
    ? { id: { $case: 'uscc', value: subject.uscc }, name: `Company ${subject.uscc.slice(8, 17)}`, usccOverride: undefined }
    : { id: { $case: 'expertRef', value: subject.expertRef }, name: '', usccOverride: undefined };
}

export interface HeaderOptions {
  readonly role?: CreditRole;
  readonly days?: number;
  readonly projectCode?: string;
}

/** A header counting `days` (default 730) from `fromMs`. */
export function creditHeader(recordId: string, subject: Subject, fromMs: number, options: HeaderOptions = {}): CreditRecordHeader {
  return {
    recordId,
    subject: creditSubject(subject),
    subjectRole: options.role ?? ('uscc' in subject ? CreditRole.CREDIT_ROLE_BIDDER : CreditRole.CREDIT_ROLE_EXPERT),
    recordPeriod: { fromMs: BigInt(fromMs), untilMs: BigInt(fromMs + (options.days ?? 730) * dayMs) },
    decidingAuthority: 'Kunming Public Resource Trading Center',
    documentCode: '',
    projectCode: options.projectCode ?? 'KM-2026-GC-001',
  };
}

export function performanceRecord(recordId: string, subject: Subject, fromMs: number, grade: PerformanceGrade, options?: HeaderOptions): Record {
  return { kind: { $case: 'performanceEvaluation', value: { header: creditHeader(recordId, subject, fromMs, options), grade, evaluatorUscc: '91350100M000100Y43', summary: 'delivered as contracted' } } };
}

export function misconductRecord(recordId: string, subject: Subject, fromMs: number, severity: MisconductSeverity, options?: HeaderOptions): Record {
  return { kind: { $case: 'venueMisconduct', value: { header: creditHeader(recordId, subject, fromMs, options), severity, behaviour: 'left the evaluation room during scoring', basis: 'venue rules art. 12' } } };
}

export function mutualRecord(recordId: string, subject: Subject, rater: Subject, fromMs: number, stars: number, options?: HeaderOptions): Record {
  const raterRole = 'uscc' in rater ? CreditRole.CREDIT_ROLE_TENDERER : CreditRole.CREDIT_ROLE_EXPERT;
  return { kind: { $case: 'mutualEvaluation', value: { header: creditHeader(recordId, subject, fromMs, options), rater: creditSubject(rater), raterRole, stars, comment: '' } } };
}

export function ratingRecord(recordId: string, subject: Subject, fromMs: number, grade: RatingGrade, options?: HeaderOptions): Record {
  return { kind: { $case: 'thirdPartyRating', value: { header: creditHeader(recordId, subject, fromMs, options), ratingAgency: 'Yunnan Credit Rating Co.', ratingAgencyUscc: '91110000600037341L', grade } } };
}

export function honourRecord(recordId: string, subject: Subject, fromMs: number, kind: HonourKind, options?: HeaderOptions): Record {
  return { kind: { $case: 'honourEntry', value: { header: creditHeader(recordId, subject, fromMs, options), kind, title: 'Provincial quality award' } } };
}

export function creditLiftRecord(recordId: string, effectiveAtMs: number): Record {
  return { kind: { $case: 'creditLift', value: { recordId, reason: LiftReason.LIFT_REASON_CREDIT_REPAIR, explanation: 'credit repair completed', effectiveAtMs: BigInt(effectiveAtMs) } } };
}

/** What random() draws from: a seeded stream (federation/testing/prng.ts). */
export interface Draws {
  int(min: number, maxExclusive: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
}

/**
 * A random credit record (or a sanction) about one of `subjects`, its period
 * starting within `spreadDays` before `aroundMs`: the workload of the property
 * tests, the simulator check and the benchmark.
 */
export function randomCreditRecord(draws: Draws, recordId: string, subjects: readonly Subject[], aroundMs: number, spreadDays = 400): Record {
  const subject = draws.pick(subjects);
  const fromMs = aroundMs - draws.int(0, spreadDays) * dayMs - draws.int(0, dayMs);
  const options: HeaderOptions = { days: draws.int(1, 800), projectCode: `P-${draws.int(0, 4)}` };
  const expert = !('uscc' in subject);
  switch (draws.int(0, expert ? 3 : 6)) {
    case 0:
      return misconductRecord(recordId, subject, fromMs, draws.int(1, 4), options);
    case 1:
      return honourRecord(recordId, subject, fromMs, draws.int(1, 3), options);
    case 2: {
      const raters = subjects.filter((s) => s !== subject && 'uscc' in s);
      if (raters.length === 0) return misconductRecord(recordId, subject, fromMs, draws.int(1, 4), options);
      return mutualRecord(recordId, subject, draws.pick(raters), fromMs, draws.int(1, 6), options);
    }
    case 3:
      return performanceRecord(recordId, subject, fromMs, draws.int(1, 5), options);
    case 4:
      return ratingRecord(recordId, subject, fromMs, draws.int(1, 8), options);
    default: {
      const uscc = (subject as { uscc: string }).uscc;
      const issue = sanction(recordId, uscc, fromMs, draws.int(30, 700));
      return { kind: { $case: 'sanctionIssue', value: { ...issue, listType: draws.int(1, 4) } } };
    }
  }
}
