import {
  CreditServiceService,
  type CreditIndex,
  type GetCreditIndexRequest,
  type GetCreditIndexResponse,
  type GetEvaluationBonusRequest,
  type GetEvaluationBonusResponse,
  type LiftCreditRequest,
  type LiftCreditResponse,
  type ListExpertCreditRequest,
  type ListExpertCreditResponse,
  type RecordCreditRequest,
  type RecordCreditResponse,
} from '../../gen/tongxing/api/v1/credit.js';
import type { CreditPolicy } from '../../gen/tongxing/records/v1/records.js';
import { cutoffMs, dayOf } from '../../federation/credit/day.js';
import { headerOf, isCreditKind } from '../../federation/credit/facts.js';
import { creditIndex, type CreditIndexResult } from '../../federation/credit/index.js';
import { belowExpertThreshold, bonusBandOf } from '../../federation/credit/method.js';
import { creditPolicyForDay } from '../../federation/credit/policy.js';
import { readSubjectFacts } from '../../federation/credit/read.js';
import { AlreadyExistsError, NotFoundError, PreconditionError, ValidationError } from '../../federation/errors.js';
import { freshness } from '../../federation/freshness.js';
import { validateCreditLift, validateRecord } from '../../federation/records/validate.js';
import { creditKey, creditLiftRefusal, creditRecordRefusal, type CreditView } from '../../federation/views/credit.js';
import { expertKey } from '../../federation/views/expert.js';
import { decodeView } from '../../federation/views/provenance.js';
import { creditExpertsListMax } from '../limits.js';
import { checkTender } from './credit-tender.js';
import { checkSubject, freshnessAnswer } from './sanction.js';
import type { ApiContext, ApiService } from './service.js';

// CreditService: credit records are written at the member that states them
// (each kind needs the city-center role, like every record; a lift only by the
// record's author); the index, bonus and expert lists are answered at any
// node from its own views by federation/credit/, the policy in force chosen
// by federation/credit/policy.ts; the tender check is credit-tender.ts.

/** The day a request names (YYYY-MM-DD, CST), or today by this node's clock; ValidationError naming `field`. */
export function requestDay(c: ApiContext, day: string, field = 'day'): string {
  if (day === '') return dayOf(c.clock.nowMs());
  cutoffMs(day, field);
  return day;
}

export function creditIndexAnswer(c: ApiContext, subject: string, result: CreditIndexResult): CreditIndex {
  return {
    subject,
    day: result.day,
    cutoffMs: BigInt(result.cutoffMs),
    methodVersion: result.methodVersion,
    baseHundredths: result.baseHundredths,
    indexHundredths: result.indexHundredths,
    totals: result.totals,
    contributions: result.contributions.map((k) => ({
      indicator: k.indicator,
      // A quorum's lift has no entry of its own; every contribution has one (a record or a sanction's issue).
      recorded: c.provenance(k.at),
      recordId: k.recordId,
      pointsHundredths: k.pointsHundredths,
      fullPointsHundredths: k.fullPointsHundredths,
      why: k.why,
    })),
  };
}

/** The index of `subject` on `day` by the policy in force then (federation/credit/policy.ts). */
export async function subjectIndex(c: ApiContext, subject: string, day: string, policy?: CreditPolicy): Promise<CreditIndexResult> {
  const facts = await readSubjectFacts(c.replica, subject);
  return creditIndex(facts.credit, facts.sanctions, day, policy ?? creditPolicyForDay(c.replica.governance, day, c.clock.nowMs()));
}

export function creditService(c: ApiContext): ApiService {
  const { replica, serial, provenance } = c;

  async function recordCredit(request: RecordCreditRequest): Promise<RecordCreditResponse> {
    const record = request.record;
    if (!record) throw new ValidationError('record', 'missing');
    if (!isCreditKind(record.kind)) {
      throw new ValidationError('record.kind', `${record.kind?.$case ?? 'missing'}: must be performanceEvaluation, venueMisconduct, mutualEvaluation, thirdPartyRating or honourEntry`);
    }
    validateRecord(record, 'record');
    const recordId = headerOf(record.kind).recordId;
    const key = creditKey(replica.nodeId, recordId);
    return serial.run(key, async () => {
      const refusal = creditRecordRefusal(decodeView<CreditView>(await replica.store.getState(key)));
      if (refusal) throw new AlreadyExistsError(`record.${record.kind!.$case}.header.recordId: this node already recorded a credit record with id ${JSON.stringify(recordId)} (log seq ${refusal.recorded.seq})`);
      return { provenance: provenance(await replica.write(record)) };
    });
  }

  async function liftCredit(request: LiftCreditRequest): Promise<LiftCreditResponse> {
    if (!request.lift) throw new ValidationError('lift', 'missing');
    // effective_at_ms 0 means "now", by this node's clock, as for a sanction's lift.
    const lift = request.lift.effectiveAtMs === 0n ? { ...request.lift, effectiveAtMs: BigInt(c.clock.nowMs()) } : request.lift;
    validateCreditLift(lift, 'lift');
    const key = creditKey(replica.nodeId, lift.recordId);
    return serial.run(key, async () => {
      const refusal = creditLiftRefusal(decodeView<CreditView>(await replica.store.getState(key)));
      if (refusal?.refusal === 'not-recorded') {
        throw new NotFoundError(`lift.recordId: this node recorded no credit record with id ${JSON.stringify(lift.recordId)}; only the member that recorded it lifts it`);
      }
      if (refusal?.refusal === 'already-lifted') throw new PreconditionError(`lift.recordId: credit record ${JSON.stringify(lift.recordId)} is already lifted (log seq ${refusal.lifted.seq})`);
      return { provenance: provenance(await replica.write({ kind: { $case: 'creditLift', value: lift } })) };
    });
  }

  async function getCreditIndex(request: GetCreditIndexRequest): Promise<GetCreditIndexResponse> {
    const subject = checkSubject(request);
    const day = requestDay(c, request.day);
    const result = await subjectIndex(c, subject, day);
    return { index: creditIndexAnswer(c, subject, result), freshness: freshnessAnswer(c, freshness(replica, c.clock.nowMs(), c.freshnessBudgetMs)) };
  }

  async function listExpertCredit(request: ListExpertCreditRequest): Promise<ListExpertCreditResponse> {
    const day = requestDay(c, request.day);
    const policy = creditPolicyForDay(replica.governance, day, c.clock.nowMs());
    const views = await replica.store.stateRange(expertKey(''), creditExpertsListMax + 1);
    const refs = views.slice(0, creditExpertsListMax).map(([key]) => decodeURIComponent(key.slice(expertKey('').length)));
    const experts: ListExpertCreditResponse['experts'] = [];
    for (const expertRef of refs) {
      const result = await subjectIndex(c, `expert:${expertRef}`, day, policy);
      const below = belowExpertThreshold(policy, result.indexHundredths);
      if (request.belowThresholdOnly && !below) continue;
      experts.push({ expertRef, indexHundredths: result.indexHundredths, belowThreshold: below, contributions: result.contributions.length });
    }
    return { day, methodVersion: policy.version, thresholdHundredths: policy.expertThresholdHundredths, experts, truncated: views.length > creditExpertsListMax };
  }

  async function getEvaluationBonus(request: GetEvaluationBonusRequest): Promise<GetEvaluationBonusResponse> {
    if (request.uscc === '') throw new ValidationError('uscc', 'missing');
    const subject = checkSubject({ uscc: request.uscc, expertRef: '' });
    const day = requestDay(c, request.day);
    const policy = creditPolicyForDay(replica.governance, day, c.clock.nowMs());
    const result = await subjectIndex(c, subject, day, policy);
    const band = bonusBandOf(policy, result.indexHundredths);
    return {
      index: creditIndexAnswer(c, subject, result),
      bonusPointsHundredths: band?.pointsHundredths ?? 0,
      bandMinIndexHundredths: band?.minIndexHundredths ?? 0,
      bandApplied: band !== undefined,
    };
  }

  return {
    definition: CreditServiceService,
    handlers: { recordCredit, liftCredit, getCreditIndex, listExpertCredit, getEvaluationBonus, checkTender: (request) => checkTender(c, request) },
  };
}
