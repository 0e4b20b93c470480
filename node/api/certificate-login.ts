import type { Provenance as ApiProvenance } from '../../gen/tongxing/api/v1/api.js';
import { LoginOutcome, type IssueChallengeResponse, type VerifyLoginRequest, type VerifyLoginResponse } from '../../gen/tongxing/api/v1/certificates.js';
import { ListType, type SanctionIssue, type SanctionSubject } from '../../gen/tongxing/records/v1/records.js';
import { challengeBytes, requireSignatureEncoding } from '../../federation/certificates.js';
import { verify } from '../../federation/crypto/sm2.js';
import { EncodingError, ValidationError } from '../../federation/errors.js';
import { loginChallengesAnsweredMax } from '../limits.js';
import * as queries from '../../federation/queries.js';
import type { CertificateRecording, Holder } from '../../federation/views/certificate.js';
import type { Provenance } from '../../federation/views/provenance.js';
import type { StatelessLoginChallenges, ChallengeCheck } from './certificate-challenges.js';
import { certificateRef, holderOf, outcomes, standing, summaryOf, type CertificateRef } from './certificate-standing.js';
import { sanctionCheckResponse } from './sanction.js';
import type { ApiContext } from './service.js';

// Logins with a recorded certificate at any node (一锁通行): a challenge this
// node issued, signed with the certificate's key; the answer says who it is,
// whether any member restricts or watches them, and tells each watcher.

const challengeOutcomes: Record<Exclude<ChallengeCheck, 'ok'>, { outcome: LoginOutcome; detail: string }> = {
  unknown: { outcome: LoginOutcome.LOGIN_OUTCOME_CHALLENGE_UNKNOWN, detail: 'this node did not issue that challenge (or has restarted since): ask for a new one' },
  used: { outcome: LoginOutcome.LOGIN_OUTCOME_CHALLENGE_USED, detail: 'that challenge was already used: each challenge answers one login' },
  expired: { outcome: LoginOutcome.LOGIN_OUTCOME_CHALLENGE_EXPIRED, detail: 'that challenge expired: ask for a new one' },
  crowded: {
    outcome: LoginOutcome.LOGIN_OUTCOME_CHALLENGE_EXPIRED,
    detail: `this node answered more than ${loginChallengesAnsweredMax.toLocaleString('en-US')} logins (loginChallengesAnsweredMax) since that challenge was issued, so it no longer tells it from a replay: ask for a new one`,
  },
};

export function issueChallenge(c: ApiContext, challenges: StatelessLoginChallenges): IssueChallengeResponse {
  const { challenge, expiresAtMs } = challenges.issue(c.clock.nowMs());
  return { challenge: Buffer.from(challenge), expiresAtMs: BigInt(expiresAtMs) };
}

function refused(outcome: LoginOutcome, detail: string, more: Partial<VerifyLoginResponse> = {}): VerifyLoginResponse {
  return { valid: false, outcome, detail, holder: undefined, certificate: undefined, recorded: undefined, sanctions: undefined, watch: [], alerts: [], ...more };
}

export async function verifyLogin(c: ApiContext, challenges: StatelessLoginChallenges, request: VerifyLoginRequest): Promise<VerifyLoginResponse> {
  // Every input check comes before the challenge is used up.
  if (request.challenge.length === 0) throw new ValidationError('challenge', 'missing');
  if (request.challenge.length !== challengeBytes) throw new ValidationError('challenge', `${request.challenge.length} bytes, expected ${challengeBytes}`);
  const ref = certificateRef(request);
  requireSignatureEncoding(request.signature, 'signature');
  const nowMs = c.clock.nowMs();

  // Taken before any await, so two answers of one challenge cannot both pass.
  const challenge = challenges.take(request.challenge, nowMs);
  if (challenge !== 'ok') return refused(challengeOutcomes[challenge].outcome, challengeOutcomes[challenge].detail);

  // Refused before the signature is looked at: the challenge is given back (its answer taught nothing).
  let found: Awaited<ReturnType<typeof loginStanding>>;
  try {
    found = await loginStanding(c, ref, nowMs);
  } catch (error) {
    challenges.release(request.challenge);
    throw error;
  }
  const { recording, known, outcome, detail } = found;
  if (outcome !== 'valid') {
    challenges.release(request.challenge);
    return refused(outcomes[outcome], detail, known);
  }

  // From here the challenge stays used, whether the signature verifies or not.
  if (!signedBy(recording!, request)) return refused(outcomes['wrong-signature'], "the signature does not verify under the certificate's key over this challenge", known);

  // Who it is, and whether any member restricts or watches them (一处失信、处处受限).
  const check = await queries.checkSanctions(c.replica, subjectOf(recording!.holder), nowMs, nowMs, c.freshnessBudgetMs);
  const watched = check.sanctions.filter((s) => s.issue.listType === ListType.LIST_TYPE_WATCH && !s.quarantined);
  const alerts = await alertWatchers(c, watched, holderSubject(recording!, known!.holder.name), ref, nowMs);
  const sanctions = sanctionCheckResponse(c, check);
  return {
    valid: true,
    outcome: LoginOutcome.LOGIN_OUTCOME_VALID,
    detail,
    ...known!,
    sanctions,
    watch: sanctions.sanctions.filter((s) => s.sanction!.listType === ListType.LIST_TYPE_WATCH && !s.quarantined),
    alerts,
  };
}

/** The presented certificate's recording and standing at `atMs`, as a login answer shows them. */
async function loginStanding(c: ApiContext, ref: CertificateRef, atMs: number) {
  const resolved = await queries.getCertificate(c.replica, ref.issuerNameHash, ref.serialNumber);
  const recording = resolved.recording;
  const known = recording && { holder: await holderOf(c, recording), certificate: summaryOf(recording.facts), recorded: c.provenance(recording.at) };
  return { recording, known, ...standing(c, resolved, ref, atMs) };
}

function signedBy(recording: CertificateRecording, request: VerifyLoginRequest): boolean {
  try {
    return verify(Buffer.from(recording.facts.publicKey, 'hex'), request.challenge, request.signature);
  } catch (error) {
    if (!(error instanceof EncodingError)) throw error;
    return false; // e.g. r or s out of range: no key signed it
  }
}

function subjectOf(holder: Holder): string {
  return holder.uscc !== undefined ? `uscc:${holder.uscc}` : `expert:${holder.expertRef}`;
}

/** The holder as a sanction subject, for alerts about sanctions that name none. */
function holderSubject(recording: CertificateRecording, legalName: string): SanctionSubject {
  const { holder } = recording;
  return holder.uscc !== undefined
    ? { id: { $case: 'uscc', value: holder.uscc }, name: legalName || recording.facts.subject, usccOverride: undefined }
    : { id: { $case: 'expertRef', value: holder.expertRef! }, name: '', usccOverride: undefined };
}

/** The member that put the subject on its watch list is told, through this node's log. */
function alertWatchers(
  c: ApiContext,
  watched: ReadonlyArray<{ issue: SanctionIssue; issued: Provenance }>,
  subject: SanctionSubject,
  ref: CertificateRef,
  nowMs: number,
): Promise<ApiProvenance[]> {
  return Promise.all(
    watched.map(async (s) => {
      const written = await c.replica.write({
        kind: {
          $case: 'watchAlert',
          value: {
            watcher: Buffer.from(s.issued.author, 'hex'),
            sanctionId: s.issue.sanctionId,
            subject: s.issue.subject ?? subject,
            serialNumber: ref.serialNumber,
            issuerNameHash: ref.issuerNameHash,
            signedInAtMs: BigInt(nowMs),
          },
        },
      });
      return c.provenance(written);
    }),
  );
}
