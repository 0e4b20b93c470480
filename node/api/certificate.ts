import { randomBytes } from 'node:crypto';
import {
  AlertServiceService,
  CertificateServiceService,
  type GetCertificateRequest,
  type GetCertificateResponse,
  type ImportCrlRequest,
  type ImportCrlResponse,
  type ListAlertsRequest,
  type ListAlertsResponse,
  type RecordCertificateRequest,
  type RecordCertificateResponse,
  type RevokeCertificateRequest,
  type RevokeCertificateResponse,
} from '../../gen/tongxing/api/v1/certificates.js';
import { checkCertificateRecord, checkCrlRecord } from '../../federation/certificates.js';
import { AlreadyExistsError, PreconditionError, ValidationError } from '../../federation/errors.js';
import { alertsListMax } from '../limits.js';
import * as queries from '../../federation/queries.js';
import { requireTime, validateCertificateRecord, validateCertificateRevocation, validateCertificateRevocationList } from '../../federation/records/validate.js';
import { rejectionKey } from '../../federation/views/apply.js';
import { certificateKey, recordingStanding } from '../../federation/views/certificate.js';
import { decodeView } from '../../federation/views/provenance.js';
import { StatelessLoginChallenges } from './certificate-challenges.js';
import { issueChallenge, verifyLogin } from './certificate-login.js';
import { certificateRef, holderOf, outcomes, rootsNow, standing, summaryOf } from './certificate-standing.js';
import type { ApiContext, ApiService } from './service.js';

// CertificateService: record certificates (chained to a CA the alliance
// trusts), revoke them (one by one, or from a CA-signed CRL), and verify
// logins with them at any node (一锁通行, certificate-login.ts). AlertService:
// the watch-list alerts other members recorded for this node's sanctions.

export function certificateService(c: ApiContext): ApiService {
  // Drawn once per service: challenges from another node, or from before a restart, are unknown here.
  const challenges = new StatelessLoginChallenges({ key: randomBytes(32), random: (n) => randomBytes(n) });
  return {
    definition: CertificateServiceService,
    handlers: {
      recordCertificate: (request) => recordCertificate(c, request),
      revokeCertificate: (request) => revokeCertificate(c, request),
      importCrl: (request) => importCrl(c, request),
      getCertificate: (request) => getCertificate(c, request),
      issueChallenge: async () => issueChallenge(c, challenges),
      verifyLogin: (request) => verifyLogin(c, challenges, request),
    },
  };
}

async function recordCertificate(c: ApiContext, request: RecordCertificateRequest): Promise<RecordCertificateResponse> {
  const record = request.record;
  if (!record) throw new ValidationError('record', 'missing');
  validateCertificateRecord(record, 'record');
  const nowMs = c.clock.nowMs();
  const checked = checkCertificateRecord(record, rootsNow(c), nowMs);
  if (!('ok' in checked)) throw new ValidationError(`record.${checked.field ?? 'certificateDer'}`, checked.message);
  const facts = checked.ok;
  const key = certificateKey(facts.issuerNameHash, facts.serialNumber);
  return c.serial.run(key, async () => {
    const existing = await queries.getCertificate(c.replica, facts.issuerNameHash, facts.serialNumber);
    const { outcome } = standing(c, existing, { ...facts }, nowMs);
    if (outcome === 'revoked') throw new PreconditionError(`record.certificateDer: certificate serial ${facts.serialNumber} is revoked; a revoked certificate is not recorded again`);
    const recorded = recordingStanding(existing, c.replica.nodeId, record, facts.der);
    if (recorded.standing === 'recorded') {
      const first = recorded.recording;
      if (recorded.retry) return { provenance: c.provenance(first.at), certificate: summaryOf(first.facts) };
      const bound = first.holder.uscc !== undefined ? `entity ${first.holder.uscc}` : `expert ${first.holder.expertRef}`;
      throw new AlreadyExistsError(`record.certificateDer: certificate serial ${facts.serialNumber} is already recorded for ${bound} by ${c.describe(first.at.author)} (log seq ${first.at.seq})`);
    }
    const written = await c.replica.write({ kind: { $case: 'certificateRecord', value: record } });
    const refusal = await viewsRefusal(c, written.seq);
    if (refusal !== undefined) throw new PreconditionError(`record.certificateDer: recorded at log seq ${written.seq}, but the views refused it: ${refusal}`);
    return { provenance: c.provenance(written), certificate: summaryOf(facts) };
  });
}

/** Why the views refused this node's entry at `seq`, if they did: the CA might have been distrusted between the check and the write's hlc. */
async function viewsRefusal(c: ApiContext, seq: number): Promise<string | undefined> {
  return decodeView<{ reason: string }>(await c.replica.store.getState(rejectionKey(c.replica.nodeId, seq)))?.reason;
}

async function revokeCertificate(c: ApiContext, request: RevokeCertificateRequest): Promise<RevokeCertificateResponse> {
  if (!request.revocation) throw new ValidationError('revocation', 'missing');
  // revoked_at_ms 0 means "now", by this node's clock, like a lift's effective time.
  const revocation = request.revocation.revokedAtMs === 0n ? { ...request.revocation, revokedAtMs: BigInt(c.clock.nowMs()) } : request.revocation;
  validateCertificateRevocation(revocation, 'revocation');
  const written = await c.replica.write({ kind: { $case: 'certificateRevocation', value: revocation } });
  return { provenance: c.provenance(written) };
}

async function importCrl(c: ApiContext, request: ImportCrlRequest): Promise<ImportCrlResponse> {
  const crl = request.crl;
  if (!crl) throw new ValidationError('crl', 'missing');
  validateCertificateRevocationList(crl, 'crl');
  const checked = checkCrlRecord(crl, rootsNow(c));
  if (!('ok' in checked)) throw new ValidationError(`crl.${checked.field ?? 'crlDer'}`, checked.message);
  const written = await c.replica.write({ kind: { $case: 'certificateRevocationList', value: crl } });
  const refusal = await viewsRefusal(c, written.seq);
  if (refusal !== undefined) throw new PreconditionError(`crl.crlDer: recorded at log seq ${written.seq}, but the views refused it: ${refusal}`);
  return { provenance: c.provenance(written), issuer: checked.ok.issuer, revoked: checked.ok.entries.length };
}

async function getCertificate(c: ApiContext, request: GetCertificateRequest): Promise<GetCertificateResponse> {
  const ref = certificateRef(request);
  if (request.atMs !== 0n) requireTime(request.atMs, 'atMs');
  const atMs = request.atMs === 0n ? c.clock.nowMs() : Number(request.atMs);
  const resolved = await queries.getCertificate(c.replica, ref.issuerNameHash, ref.serialNumber);
  const { outcome, detail } = standing(c, resolved, ref, atMs);
  const recording = resolved.recording;
  return {
    found: recording !== undefined,
    certificate: recording && summaryOf(recording.facts),
    holder: recording && (await holderOf(c, recording)),
    recorded: recording && c.provenance(recording.at),
    observations: resolved.observations.map((o) => c.provenance(o.at)),
    revocations: resolved.revocations.map((r) => ({ provenance: c.provenance(r.at), revokedAtMs: BigInt(r.revokedAtMs), reason: r.reason, fromCrl: r.fromCrl })),
    status: outcomes[outcome],
    statusDetail: detail,
    atMs: BigInt(atMs),
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
