import { randomBytes } from 'node:crypto';
import type { Provenance as ApiProvenance } from '../../gen/tongxing/api/v1/api.js';
import {
  AlertServiceService,
  CertificateServiceService,
  LoginOutcome,
  type CertificateHolder,
  type CertificateSummary,
  type GetCertificateRequest,
  type GetCertificateResponse,
  type ImportCrlRequest,
  type ImportCrlResponse,
  type IssueChallengeResponse,
  type ListAlertsRequest,
  type ListAlertsResponse,
  type RecordCertificateRequest,
  type RecordCertificateResponse,
  type RevokeCertificateRequest,
  type RevokeCertificateResponse,
  type VerifyLoginRequest,
  type VerifyLoginResponse,
} from '../../gen/tongxing/api/v1/certificates.js';
import { ListType, type SanctionSubject } from '../../gen/tongxing/records/v1/records.js';
import {
  certificateOutcome,
  challengeBytes,
  checkCertificateRecord,
  checkCrlRecord,
  fingerprintOf,
  parseSm2Certificate,
  requireSignatureEncoding,
  serialNumberKey,
  type CertificateFacts,
  type CertificateOutcome,
} from '../../federation/certificates.js';
import { verify } from '../../federation/crypto/sm2.js';
import { EncodingError, ValidationError } from '../../federation/errors.js';
import { alertsListMax, loginChallengesAnsweredMax } from '../../federation/limits.js';
import { hlcPack } from '../../federation/log/hlc.js';
import * as queries from '../../federation/queries.js';
import {
  requireNameHash,
  requireSerialNumber,
  requireTime,
  validateCertificateRecord,
  validateCertificateRevocation,
  validateCertificateRevocationList,
} from '../../federation/records/validate.js';
import { rejectionKey } from '../../federation/views/apply.js';
import { certificateKey, recordingStanding, standingOf, type CertificateRecording, type Holder, type ResolvedCertificate } from '../../federation/views/certificate.js';
import { openPolicy } from '../../federation/views/policy.js';
import { decodeView } from '../../federation/views/provenance.js';
import { StatelessLoginChallenges, type ChallengeCheck } from './certificate-challenges.js';
import { sanctionCheckResponse } from './sanction.js';
import { AlreadyExistsError, PreconditionError, type ApiContext, type ApiService } from './service.js';

// CertificateService: record certificates (chained to a CA the alliance
// trusts), revoke them (one by one, or from a CA-signed CRL), and verify
// logins with them at any node (一锁通行). AlertService: the watch-list alerts
// other members recorded for this node's sanctions.

const outcomes: Record<CertificateOutcome | 'wrong-signature', LoginOutcome> = {
  valid: LoginOutcome.LOGIN_OUTCOME_VALID,
  'not-recorded': LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_NOT_RECORDED,
  revoked: LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_REVOKED,
  'untrusted-ca': LoginOutcome.LOGIN_OUTCOME_UNTRUSTED_CA,
  'not-yet-valid': LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_NOT_YET_VALID,
  expired: LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_EXPIRED,
  'wrong-signature': LoginOutcome.LOGIN_OUTCOME_WRONG_SIGNATURE,
};

const challengeOutcomes: Record<Exclude<ChallengeCheck, 'ok'>, { outcome: LoginOutcome; detail: string }> = {
  unknown: { outcome: LoginOutcome.LOGIN_OUTCOME_CHALLENGE_UNKNOWN, detail: 'this node did not issue that challenge (or has restarted since): ask for a new one' },
  used: { outcome: LoginOutcome.LOGIN_OUTCOME_CHALLENGE_USED, detail: 'that challenge was already used: each challenge answers one login' },
  expired: { outcome: LoginOutcome.LOGIN_OUTCOME_CHALLENGE_EXPIRED, detail: 'that challenge expired: ask for a new one' },
  crowded: {
    outcome: LoginOutcome.LOGIN_OUTCOME_CHALLENGE_EXPIRED,
    detail: `this node answered more than ${loginChallengesAnsweredMax.toLocaleString('en-US')} logins (loginChallengesAnsweredMax) since that challenge was issued, so it no longer tells it from a replay: ask for a new one`,
  },
};

export function summaryOf(facts: CertificateFacts): CertificateSummary {
  return {
    serialNumber: facts.serialNumber,
    issuerNameHash: facts.issuerNameHash,
    subject: facts.subject,
    issuer: facts.issuer,
    rootCa: facts.rootCa,
    rootFingerprint: Buffer.from(facts.rootFingerprint, 'hex'),
    notBeforeMs: BigInt(facts.notBeforeMs),
    notAfterMs: BigInt(facts.notAfterMs),
    publicKey: Buffer.from(facts.publicKey, 'hex'),
  };
}

/** Which certificate a request names: its DER, or issuer name hash and serial. */
interface CertificateRef {
  readonly issuerNameHash: string;
  readonly serialNumber: string;
  /** Base64 of the DER when the request carried the certificate. */
  readonly der?: string;
}

function certificateRef(request: { certificateDer: Uint8Array; issuerNameHash: string; serialNumber: string }): CertificateRef {
  if (request.certificateDer.length > 0) {
    if (request.issuerNameHash !== '' || request.serialNumber !== '') {
      throw new ValidationError('certificateDer', 'give the certificate or its issuerNameHash and serialNumber, not both');
    }
    const parsed = parseSm2Certificate(request.certificateDer);
    if (!('ok' in parsed)) throw new ValidationError('certificateDer', parsed.message);
    return { issuerNameHash: parsed.ok.issuerNameHash, serialNumber: serialNumberKey(parsed.ok.serialNumber), der: Buffer.from(parsed.ok.der).toString('base64') };
  }
  if (request.issuerNameHash === '' && request.serialNumber === '') throw new ValidationError('certificateDer', 'missing: give the certificate or its issuerNameHash and serialNumber');
  requireNameHash(request.issuerNameHash, 'issuerNameHash');
  requireSerialNumber(request.serialNumber, 'serialNumber');
  return { issuerNameHash: request.issuerNameHash, serialNumber: request.serialNumber };
}

function subjectOf(holder: Holder): string {
  return holder.uscc !== undefined ? `uscc:${holder.uscc}` : `expert:${holder.expertRef}`;
}

export function certificateService(c: ApiContext): ApiService {
  const { replica, clock, serial, provenance, describe } = c;
  const policy = c.policy ?? openPolicy;
  // Drawn once per service: challenges from another node, or from before a restart, are unknown here.
  const challenges = new StatelessLoginChallenges({ key: randomBytes(32), random: (n) => randomBytes(n) });
  const rootsNow = () => policy.trustedRoots(hlcPack(clock.nowMs(), 0));

  async function holderOf(recording: CertificateRecording): Promise<CertificateHolder> {
    const { holder } = recording;
    if (holder.expertRef !== undefined) return { id: { $case: 'expertRef', value: holder.expertRef }, name: '' };
    const entity = await queries.getEntity(replica, holder.uscc);
    return { id: { $case: 'entityUscc', value: holder.uscc }, name: entity?.profile.legalName ?? '' };
  }

  /** The certificate's standing at `atMs`; a presented certificate must be the very one recorded. */
  function standing(resolved: ResolvedCertificate, ref: CertificateRef, atMs: number): { outcome: CertificateOutcome; detail: string } {
    const recorded = resolved.recording?.facts.der;
    if (ref.der !== undefined && recorded !== undefined && recorded !== ref.der) {
      return { outcome: 'not-recorded', detail: 'a different certificate with this issuer and serial number is recorded' };
    }
    // Trust is judged at recording; a CA the alliance has since distrusted is refused too, when this node knows the policy.
    const trustedNow = c.policy ? new Set(rootsNow().map((der) => fingerprintOf(der))) : undefined;
    return certificateOutcome(standingOf(resolved), atMs, trustedNow && ((fingerprint) => trustedNow.has(fingerprint)));
  }

  async function recordCertificate(request: RecordCertificateRequest): Promise<RecordCertificateResponse> {
    const record = request.record;
    if (!record) throw new ValidationError('record', 'missing');
    validateCertificateRecord(record, 'record');
    const nowMs = clock.nowMs();
    const checked = checkCertificateRecord(record, rootsNow(), nowMs);
    if (!('ok' in checked)) throw new ValidationError(`record.${checked.field ?? 'certificateDer'}`, checked.message);
    const facts = checked.ok;
    const key = certificateKey(facts.issuerNameHash, facts.serialNumber);
    return serial.run(key, async () => {
      const existing = await queries.getCertificate(replica, facts.issuerNameHash, facts.serialNumber);
      const { outcome } = standing(existing, { ...facts }, nowMs);
      if (outcome === 'revoked') throw new PreconditionError(`record.certificateDer: certificate serial ${facts.serialNumber} is revoked; a revoked certificate is not recorded again`);
      const recorded = recordingStanding(existing, replica.nodeId, record, facts.der);
      if (recorded.standing === 'recorded') {
        const first = recorded.recording;
        if (recorded.retry) return { provenance: provenance(first.at), certificate: summaryOf(first.facts) };
        const bound = first.holder.uscc !== undefined ? `entity ${first.holder.uscc}` : `expert ${first.holder.expertRef}`;
        throw new AlreadyExistsError(`record.certificateDer: certificate serial ${facts.serialNumber} is already recorded for ${bound} by ${describe(first.at.author)} (log seq ${first.at.seq})`);
      }
      const written = await replica.write({ kind: { $case: 'certificateRecord', value: record } });
      // The CA might have been distrusted between the check and the write's hlc: then the views refused it.
      const rejected = decodeView<{ reason: string }>(await replica.store.getState(rejectionKey(replica.nodeId, written.seq)));
      if (rejected) throw new PreconditionError(`record.certificateDer: recorded at log seq ${written.seq}, but the views refused it: ${rejected.reason}`);
      return { provenance: provenance(written), certificate: summaryOf(facts) };
    });
  }

  async function revokeCertificate(request: RevokeCertificateRequest): Promise<RevokeCertificateResponse> {
    if (!request.revocation) throw new ValidationError('revocation', 'missing');
    // revoked_at_ms 0 means "now", by this node's clock, like a lift's effective time.
    const revocation = request.revocation.revokedAtMs === 0n ? { ...request.revocation, revokedAtMs: BigInt(clock.nowMs()) } : request.revocation;
    validateCertificateRevocation(revocation, 'revocation');
    const written = await replica.write({ kind: { $case: 'certificateRevocation', value: revocation } });
    return { provenance: provenance(written) };
  }

  async function importCrl(request: ImportCrlRequest): Promise<ImportCrlResponse> {
    const crl = request.crl;
    if (!crl) throw new ValidationError('crl', 'missing');
    validateCertificateRevocationList(crl, 'crl');
    const checked = checkCrlRecord(crl, rootsNow());
    if (!('ok' in checked)) throw new ValidationError(`crl.${checked.field ?? 'crlDer'}`, checked.message);
    const written = await replica.write({ kind: { $case: 'certificateRevocationList', value: crl } });
    const rejected = decodeView<{ reason: string }>(await replica.store.getState(rejectionKey(replica.nodeId, written.seq)));
    if (rejected) throw new PreconditionError(`crl.crlDer: recorded at log seq ${written.seq}, but the views refused it: ${rejected.reason}`);
    return { provenance: provenance(written), issuer: checked.ok.issuer, revoked: checked.ok.entries.length };
  }

  async function getCertificate(request: GetCertificateRequest): Promise<GetCertificateResponse> {
    const ref = certificateRef(request);
    if (request.atMs !== 0n) requireTime(request.atMs, 'atMs');
    const atMs = request.atMs === 0n ? clock.nowMs() : Number(request.atMs);
    const resolved = await queries.getCertificate(replica, ref.issuerNameHash, ref.serialNumber);
    const { outcome, detail } = standing(resolved, ref, atMs);
    const recording = resolved.recording;
    return {
      found: recording !== undefined,
      certificate: recording && summaryOf(recording.facts),
      holder: recording && (await holderOf(recording)),
      recorded: recording && provenance(recording.at),
      observations: resolved.observations.map((o) => provenance(o.at)),
      revocations: resolved.revocations.map((r) => ({ provenance: provenance(r.at), revokedAtMs: BigInt(r.revokedAtMs), reason: r.reason, fromCrl: r.fromCrl })),
      status: outcomes[outcome],
      statusDetail: detail,
      atMs: BigInt(atMs),
    };
  }

  async function issueChallenge(): Promise<IssueChallengeResponse> {
    const { challenge, expiresAtMs } = challenges.issue(clock.nowMs());
    return { challenge: Buffer.from(challenge), expiresAtMs: BigInt(expiresAtMs) };
  }

  /** The presented certificate's recording and standing at `atMs`, as a login answer shows them. */
  async function loginStanding(ref: CertificateRef, atMs: number) {
    const resolved = await queries.getCertificate(replica, ref.issuerNameHash, ref.serialNumber);
    const recording = resolved.recording;
    const known = recording && { holder: await holderOf(recording), certificate: summaryOf(recording.facts), recorded: provenance(recording.at) };
    return { recording, known, ...standing(resolved, ref, atMs) };
  }

  async function verifyLogin(request: VerifyLoginRequest): Promise<VerifyLoginResponse> {
    // Every input check comes before the challenge is used up.
    if (request.challenge.length === 0) throw new ValidationError('challenge', 'missing');
    if (request.challenge.length !== challengeBytes) throw new ValidationError('challenge', `${request.challenge.length} bytes, expected ${challengeBytes}`);
    const ref = certificateRef(request);
    requireSignatureEncoding(request.signature, 'signature');
    const nowMs = clock.nowMs();
    const refused = (outcome: LoginOutcome, detail: string, more: Partial<VerifyLoginResponse> = {}): VerifyLoginResponse => ({
      valid: false,
      outcome,
      detail,
      holder: undefined,
      certificate: undefined,
      recorded: undefined,
      sanctions: undefined,
      watch: [],
      alerts: [],
      ...more,
    });

    // Taken before any await, so two answers of one challenge cannot both pass.
    const challenge = challenges.take(request.challenge, nowMs);
    if (challenge !== 'ok') return refused(challengeOutcomes[challenge].outcome, challengeOutcomes[challenge].detail);

    // Refused before the signature is looked at: the challenge is given back (its answer taught nothing).
    let found: Awaited<ReturnType<typeof loginStanding>>;
    try {
      found = await loginStanding(ref, nowMs);
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
    let signed: boolean;
    try {
      signed = verify(Buffer.from(recording!.facts.publicKey, 'hex'), request.challenge, request.signature);
    } catch (error) {
      if (!(error instanceof EncodingError)) throw error;
      signed = false; // e.g. r or s out of range: no key signed it
    }
    if (!signed) return refused(outcomes['wrong-signature'], "the signature does not verify under the certificate's key over this challenge", known);

    // Who it is, and whether any member restricts or watches them (一处失信、处处受限).
    const subject = subjectOf(recording!.holder);
    const check = await queries.checkSanctions(replica, subject, nowMs, nowMs, c.freshnessBudgetMs);
    const watched = check.sanctions.filter((s) => s.issue.listType === ListType.LIST_TYPE_WATCH && !s.quarantined);
    const sanctionSubject: SanctionSubject =
      recording!.holder.uscc !== undefined
        ? { id: { $case: 'uscc', value: recording!.holder.uscc }, name: known!.holder.name || recording!.facts.subject, usccOverride: undefined }
        : { id: { $case: 'expertRef', value: recording!.holder.expertRef! }, name: '', usccOverride: undefined };
    // The member that put the subject on its watch list is told, through this node's log.
    const alerts: ApiProvenance[] = await Promise.all(
      watched.map(async (s) => {
        const written = await replica.write({
          kind: {
            $case: 'watchAlert',
            value: {
              watcher: Buffer.from(s.issued.author, 'hex'),
              sanctionId: s.issue.sanctionId,
              subject: s.issue.subject ?? sanctionSubject,
              serialNumber: ref.serialNumber,
              issuerNameHash: ref.issuerNameHash,
              signedInAtMs: BigInt(nowMs),
            },
          },
        });
        return provenance(written);
      }),
    );
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

  return {
    definition: CertificateServiceService,
    handlers: { recordCertificate, revokeCertificate, importCrl, getCertificate, issueChallenge, verifyLogin },
  };
}

export function alertService(c: ApiContext): ApiService {
  async function listAlerts(request: ListAlertsRequest): Promise<ListAlertsResponse> {
    const limit = request.limit === 0 ? alertsListMax : Math.min(request.limit, alertsListMax);
    const { alerts, truncated } = await queries.listAlerts(c.replica, c.replica.nodeId, limit);
    return { alerts: alerts.map((a) => ({ alert: a.alert, recorded: c.provenance(a.at) })), truncated };
  }
  return { definition: AlertServiceService, handlers: { listAlerts } };
}
