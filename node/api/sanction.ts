import {
  SanctionServiceService,
  Verdict,
  type CheckSanctionsRequest,
  type CheckSanctionsResponse,
  type IssueSanctionRequest,
  type IssueSanctionResponse,
  type LiftSanctionRequest,
  type LiftSanctionResponse,
  type MemberFreshness,
} from '../../gen/tongxing/api/v1/api.js';
import type { MemberFreshness as MemberFreshnessState } from '../../federation/freshness.js';
import type { SanctionIssue } from '../../gen/tongxing/records/v1/records.js';
import { AlreadyExistsError, NotFoundError, PreconditionError, ValidationError } from '../../federation/errors.js';
import { EvidenceBusyError, evidenceBody, signEvidence, withStableHeads } from '../../federation/evidence.js';
import * as queries from '../../federation/queries.js';
import { requireExpertRef, requireTime, validateSanctionIssue, validateSanctionLift } from '../../federation/records/validate.js';
import { checkUscc } from '../../federation/records/uscc.js';
import { decodeView } from '../../federation/views/provenance.js';
import { issueRefusal, liftRefusal, sanctionKey, type SanctionView } from '../../federation/views/sanction.js';
import type { ApiContext, ApiService } from './service.js';

// SanctionService: issue and lift at the issuing node; check at any node,
// failing closed when a member's data is older than the freshness budget, and
// on request with an evidence bundle signed by this node (federation/evidence.ts).

const verdicts: Record<queries.Verdict, Verdict> = {
  clear: Verdict.VERDICT_CLEAR,
  restricted: Verdict.VERDICT_RESTRICTED,
  'unknown-stale': Verdict.VERDICT_UNKNOWN_STALE,
};

/** Each member's freshness as every answer reports it. */
export function freshnessAnswer(c: ApiContext, freshness: readonly MemberFreshnessState[]): MemberFreshness[] {
  return freshness.map((f) => ({
    nodeId: Buffer.from(f.nodeId, 'hex'),
    city: c.cityOf(f.nodeId),
    seq: BigInt(f.storedSeq),
    ageMs: f.ageMs === undefined ? -1n : BigInt(f.ageMs),
    stale: f.stale,
  }));
}

/** A check as the API answers it (also inside login answers and evidence bundles). */
export function sanctionCheckResponse(c: ApiContext, check: queries.SanctionCheck): CheckSanctionsResponse {
  return {
    verdict: verdicts[check.verdict],
    sanctions: check.sanctions.map((s) => ({ sanction: s.issue, issued: c.provenance(s.issued), quarantined: s.quarantined, recognised: s.recognition.recognised, recognition: s.recognition.reason })),
    freshness: freshnessAnswer(c, check.freshness),
    atMs: BigInt(check.atMs),
    freshnessBudgetMs: BigInt(c.freshnessBudgetMs),
    evidence: Buffer.alloc(0),
  };
}

/** The subject key of a check request: exactly one of uscc and expertRef, valid. */
export function checkSubject(request: { uscc: string; expertRef: string }): string {
  if (request.uscc !== '' && request.expertRef !== '') throw new ValidationError('expertRef', 'set exactly one of uscc and expertRef, not both');
  if (request.uscc !== '') {
    const checked = checkUscc(request.uscc);
    // Legacy codes (wrong check character) may be sanctioned with an override, so they are checked too.
    if (!checked.valid && !checked.overridable) throw new ValidationError('uscc', checked.reason);
    return `uscc:${request.uscc}`;
  }
  if (request.expertRef !== '') {
    requireExpertRef(request.expertRef, 'expertRef');
    return `expert:${request.expertRef}`;
  }
  throw new ValidationError('uscc', 'missing: set exactly one of uscc and expertRef');
}

export function sanctionService(c: ApiContext): ApiService {
  const { replica, clock, serial, provenance } = c;

  /**
   * The one rule for an entity subject's name (BODY_NAME), for gRPC, HTTP and
   * the CLI alike: the one the request gives, else the legal name the alliance
   * has registered for the code, written into the record so it stands on its
   * own; a code registered nowhere this node has heard of needs it given.
   */
  async function withSubjectName(sanction: SanctionIssue): Promise<SanctionIssue> {
    const subject = sanction.subject;
    if (subject?.id?.$case !== 'uscc' || subject.name !== '') return sanction;
    const entity = await queries.getEntity(replica, subject.id.value);
    if (!entity) {
      // An invalid code is reported as such by the validation that follows.
      if (!checkUscc(subject.id.value).valid) return sanction;
      throw new ValidationError('sanction.subject.name', `missing: ${subject.id.value} is not registered at any member this node has heard from, so its name (BODY_NAME) must be given`);
    }
    return { ...sanction, subject: { ...subject, name: entity.profile.legalName } };
  }

  async function issueSanction(request: IssueSanctionRequest): Promise<IssueSanctionResponse> {
    if (!request.sanction) throw new ValidationError('sanction', 'missing');
    const sanction = await withSubjectName(request.sanction);
    validateSanctionIssue(sanction, 'sanction');
    const key = sanctionKey(replica.nodeId, sanction.sanctionId);
    return serial.run(key, async () => {
      if (issueRefusal(decodeView<SanctionView>(await replica.store.getState(key)))) {
        throw new AlreadyExistsError(`sanction.sanctionId: this node already issued a sanction with id ${JSON.stringify(sanction.sanctionId)}`);
      }
      const written = await replica.write({ kind: { $case: 'sanctionIssue', value: sanction } });
      return { provenance: provenance(written), subjectName: sanction.subject!.name };
    });
  }

  async function liftSanction(request: LiftSanctionRequest): Promise<LiftSanctionResponse> {
    if (!request.lift) throw new ValidationError('lift', 'missing');
    // effective_at_ms 0 means "now", by this node's clock, like at_ms of a check.
    const lift = request.lift.effectiveAtMs === 0n ? { ...request.lift, effectiveAtMs: BigInt(clock.nowMs()) } : request.lift;
    validateSanctionLift(lift, 'lift');
    const key = sanctionKey(replica.nodeId, lift.sanctionId);
    return serial.run(key, async () => {
      const refusal = liftRefusal(decodeView<SanctionView>(await replica.store.getState(key)));
      if (refusal?.refusal === 'not-issued') {
        throw new NotFoundError(
          `lift.sanctionId: this node issued no sanction with id ${JSON.stringify(lift.sanctionId)}; only the issuing node lifts its sanction`,
        );
      }
      if (refusal?.refusal === 'already-lifted') {
        throw new PreconditionError(`lift.sanctionId: sanction ${JSON.stringify(lift.sanctionId)} is already lifted (log seq ${refusal.lifted.seq})`);
      }
      const written = await replica.write({ kind: { $case: 'sanctionLift', value: lift } });
      return { provenance: provenance(written) };
    });
  }

  async function checkSanctions(request: CheckSanctionsRequest): Promise<CheckSanctionsResponse> {
    const subject = checkSubject(request);
    if (request.atMs !== 0n) requireTime(request.atMs, 'atMs');
    if (request.evidence && !c.signer) throw new PreconditionError('evidence: this node has no signing key configured for evidence bundles');
    const nowMs = clock.nowMs();
    const atMs = request.atMs === 0n ? nowMs : Number(request.atMs);
    const run = () => queries.checkSanctions(replica, subject, atMs, nowMs, c.freshnessBudgetMs);
    if (!request.evidence) return sanctionCheckResponse(c, await run());
    let stable;
    try {
      stable = await withStableHeads(replica.store, run);
    } catch (error) {
      if (error instanceof EvidenceBusyError) throw new PreconditionError(`evidence: ${error.message}`);
      throw error;
    }
    const answer = sanctionCheckResponse(c, stable.result);
    const body = evidenceBody({ allianceId: c.allianceId, signer: c.signer!, nodeId: replica.nodeId, city: c.city, answeredAtMs: nowMs, query: request, answer, heads: stable.heads, members: replica.members });
    // The answer returned is the one signed (freshness seqs are the heads'), plus the bundle.
    return { ...body.answer!, evidence: Buffer.from(signEvidence(body, c.signer!)) };
  }

  return { definition: SanctionServiceService, handlers: { issueSanction, liftSanction, checkSanctions } };
}
