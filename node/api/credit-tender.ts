import { LoginOutcome } from '../../gen/tongxing/api/v1/certificates.js';
import { TenderVerdict, type BidderCheck, type CertificateCheck, type CheckTenderRequest, type CheckTenderResponse, type TenderBidder, type TenderCheckAnswer } from '../../gen/tongxing/api/v1/credit.js';
import { Verdict } from '../../gen/tongxing/api/v1/api.js';
import { dayOf } from '../../federation/credit/day.js';
import { formatHundredths, formatPoints } from '../../federation/credit/fixed.js';
import { bonusBandOf } from '../../federation/credit/method.js';
import { creditPolicyForDay } from '../../federation/credit/policy.js';
import { EvidenceBusyError, evidenceBody, signEvidence, withStableHeads } from '../../federation/evidence.js';
import { PreconditionError, ValidationError } from '../../federation/errors.js';
import { freshness } from '../../federation/freshness.js';
import { evaluationBiddersMax } from '../../federation/limits.js';
import * as queries from '../../federation/queries.js';
import { requireIdentifier, requireTime, requireUscc } from '../../federation/records/validate.js';
import { certificateRef, outcomes, standing, summaryOf } from './certificate-standing.js';
import { creditIndexAnswer, subjectIndex } from './credit.js';
import { freshnessAnswer, sanctionCheckResponse } from './sanction.js';
import type { ApiContext } from './service.js';

// 一标一查 (one check per tender): at bid opening, every bidder of a tender
// is checked at once — sanctions active then (as CheckSanctions answers
// them), its credit index that day and the evaluation bonus the policy's bands
// give it, and the standing of the certificate it bid with, when the platform
// passes it — all read between two identical reads of the heads, and signed
// as ONE evidence bundle (federation/evidence.ts) that `tongxing evidence
// verify` checks offline. A bidder is flagged when a sanction binds here, its
// index falls in a deducting band, or its certificate is not valid for it.

function requireBidders(bidders: readonly TenderBidder[]): void {
  if (bidders.length === 0) throw new ValidationError('bidders', 'missing');
  if (bidders.length > evaluationBiddersMax) throw new ValidationError('bidders', `${bidders.length} items, at most ${evaluationBiddersMax} (evaluationBiddersMax)`);
  const seen = new Map<string, number>();
  bidders.forEach((b, i) => {
    requireUscc(b.uscc, `bidders[${i}].uscc`);
    const first = seen.get(b.uscc);
    if (first !== undefined) throw new ValidationError(`bidders[${i}].uscc`, `duplicate of bidders[${first}].uscc`);
    seen.set(b.uscc, i);
  });
}

async function certificateCheck(c: ApiContext, bidder: TenderBidder, field: string, atMs: number): Promise<CertificateCheck> {
  if (bidder.certificateDer.length === 0) return { presented: false, outcome: LoginOutcome.LOGIN_OUTCOME_UNSPECIFIED, detail: 'no certificate given with the bid', certificate: undefined };
  let ref;
  try {
    ref = certificateRef({ certificateDer: bidder.certificateDer, issuerNameHash: '', serialNumber: '' });
  } catch (error) {
    if (error instanceof ValidationError) throw new ValidationError(`${field}.certificateDer`, error.message.replace(/^certificateDer: /, ''));
    throw error;
  }
  const resolved = await queries.getCertificate(c.replica, ref.issuerNameHash, ref.serialNumber);
  const recording = resolved.recording;
  const judged = standing(c, resolved, ref, atMs);
  const foreign = recording !== undefined && recording.holder.uscc !== bidder.uscc;
  const outcome = foreign ? 'not-recorded' : judged.outcome;
  const detail = foreign ? `recorded for ${recording.holder.uscc ?? `expert ${recording.holder.expertRef}`}, not for this bidder` : judged.detail;
  return { presented: true, outcome: outcomes[outcome], detail, certificate: recording && summaryOf(recording.facts) };
}

async function bidderCheck(c: ApiContext, bidder: TenderBidder, index: number, atMs: number, day: string): Promise<BidderCheck> {
  const subject = `uscc:${bidder.uscc}`;
  const nowMs = c.clock.nowMs();
  const policy = creditPolicyForDay(c.replica.governance, day, nowMs);
  const sanctions = await queries.checkSanctions(c.replica, subject, atMs, nowMs, c.freshnessBudgetMs);
  const credit = await subjectIndex(c, subject, day, policy);
  const band = bonusBandOf(policy, credit.indexHundredths);
  const certificate = await certificateCheck(c, bidder, `bidders[${index}]`, atMs);
  const entity = await queries.getEntity(c.replica, bidder.uscc);
  const answered = sanctionCheckResponse(c, sanctions);
  const flags: string[] = [];
  const binding = answered.sanctions.filter((s) => s.recognised);
  if (binding.length > 0) flags.push(`restricted: ${binding.map((s) => `${s.sanction?.sanctionId} (${s.issued?.authorCity || 'unknown member'})`).join(', ')}`);
  if ((band?.pointsHundredths ?? 0) < 0) flags.push(`credit index ${formatHundredths(credit.indexHundredths)} gives ${formatPoints(band!.pointsHundredths)} points in evaluation`);
  if (certificate.presented && certificate.outcome !== LoginOutcome.LOGIN_OUTCOME_VALID) flags.push(`certificate not valid: ${certificate.detail}`);
  return {
    uscc: bidder.uscc,
    name: entity?.profile.legalName ?? '',
    sanctionsVerdict: binding.length > 0 ? Verdict.VERDICT_RESTRICTED : Verdict.VERDICT_CLEAR,
    sanctions: answered.sanctions,
    credit: creditIndexAnswer(c, subject, credit),
    bonusPointsHundredths: band?.pointsHundredths ?? 0,
    certificate,
    flags,
  };
}

export async function checkTender(c: ApiContext, request: CheckTenderRequest): Promise<CheckTenderResponse> {
  requireIdentifier(request.projectCode, 'projectCode');
  requireBidders(request.bidders);
  if (request.atMs !== 0n) requireTime(request.atMs, 'atMs');
  if (!c.signer) throw new PreconditionError('this node has no signing key configured for evidence bundles: a tender check is always signed');
  const nowMs = c.clock.nowMs();
  const atMs = request.atMs === 0n ? nowMs : Number(request.atMs);
  const day = dayOf(atMs);
  const run = async (): Promise<TenderCheckAnswer> => {
    const bidders: BidderCheck[] = [];
    for (const [i, bidder] of request.bidders.entries()) bidders.push(await bidderCheck(c, bidder, i, atMs, day));
    const fresh = freshness(c.replica, nowMs, c.freshnessBudgetMs);
    const flagged = bidders.some((b) => b.flags.length > 0);
    const verdict = flagged ? TenderVerdict.TENDER_VERDICT_FLAGGED : fresh.some((f) => f.stale) ? TenderVerdict.TENDER_VERDICT_UNKNOWN_STALE : TenderVerdict.TENDER_VERDICT_CLEAR;
    const policy = creditPolicyForDay(c.replica.governance, day, nowMs);
    return {
      projectCode: request.projectCode,
      atMs: BigInt(atMs),
      day,
      verdict,
      bidders,
      freshness: freshnessAnswer(c, fresh),
      freshnessBudgetMs: BigInt(c.freshnessBudgetMs),
      expertThresholdHundredths: policy.expertThresholdHundredths,
    };
  };
  let stable;
  try {
    stable = await withStableHeads(c.replica.store, run);
  } catch (error) {
    if (error instanceof EvidenceBusyError) throw new PreconditionError(error.message);
    throw error;
  }
  const body = evidenceBody({
    allianceId: c.allianceId,
    signer: c.signer,
    nodeId: c.replica.nodeId,
    city: c.city,
    answeredAtMs: nowMs,
    tenderQuery: request,
    tenderAnswer: stable.result,
    heads: stable.heads,
    members: c.replica.members,
  });
  // The answer returned is the one signed (freshness seqs are the heads').
  return { answer: body.tenderAnswer, evidence: Buffer.from(signEvidence(body, c.signer)) };
}
