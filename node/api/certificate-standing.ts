import { LoginOutcome, type CertificateHolder, type CertificateSummary } from '../../gen/tongxing/api/v1/certificates.js';
import { certificateOutcome, fingerprintOf, parseSm2Certificate, serialNumberKey, type CertificateFacts, type CertificateOutcome } from '../../federation/certificates.js';
import { ValidationError } from '../../federation/errors.js';
import { hlcPack } from '../../federation/log/hlc.js';
import * as queries from '../../federation/queries.js';
import { requireNameHash, requireSerialNumber } from '../../federation/records/validate.js';
import { standingOf, type CertificateRecording, type ResolvedCertificate } from '../../federation/views/certificate.js';
import { openPolicy } from '../../federation/views/policy.js';
import type { ApiContext } from './service.js';

// What CertificateService's recording, lookups and logins share: which
// certificate a request names, its standing at a time, and how the API shows it.

export const outcomes: Record<CertificateOutcome | 'wrong-signature', LoginOutcome> = {
  valid: LoginOutcome.LOGIN_OUTCOME_VALID,
  'not-recorded': LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_NOT_RECORDED,
  revoked: LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_REVOKED,
  'untrusted-ca': LoginOutcome.LOGIN_OUTCOME_UNTRUSTED_CA,
  'not-yet-valid': LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_NOT_YET_VALID,
  expired: LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_EXPIRED,
  'wrong-signature': LoginOutcome.LOGIN_OUTCOME_WRONG_SIGNATURE,
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
export interface CertificateRef {
  readonly issuerNameHash: string;
  readonly serialNumber: string;
  /** Base64 of the DER when the request carried the certificate. */
  readonly der?: string;
}

export function certificateRef(request: { certificateDer: Uint8Array; issuerNameHash: string; serialNumber: string }): CertificateRef {
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

/** The CA roots the alliance trusts now, by the policy the views use (none without one). */
export function rootsNow(c: ApiContext): readonly Uint8Array[] {
  return (c.policy ?? openPolicy).trustedRoots(hlcPack(c.clock.nowMs(), 0));
}

/** The certificate's standing at `atMs`; a presented certificate must be the very one recorded. */
export function standing(c: ApiContext, resolved: ResolvedCertificate, ref: CertificateRef, atMs: number): { outcome: CertificateOutcome; detail: string } {
  const recorded = resolved.recording?.facts.der;
  if (ref.der !== undefined && recorded !== undefined && recorded !== ref.der) {
    return { outcome: 'not-recorded', detail: 'a different certificate with this issuer and serial number is recorded' };
  }
  // Trust is judged at recording; a CA the alliance has since distrusted is refused too, when this node knows the policy.
  const trustedNow = c.policy ? new Set(rootsNow(c).map((der) => fingerprintOf(der))) : undefined;
  return certificateOutcome(standingOf(resolved), atMs, trustedNow && ((fingerprint) => trustedNow.has(fingerprint)));
}

export async function holderOf(c: ApiContext, recording: CertificateRecording): Promise<CertificateHolder> {
  const { holder } = recording;
  if (holder.expertRef !== undefined) return { id: { $case: 'expertRef', value: holder.expertRef }, name: '' };
  const entity = await queries.getEntity(c.replica, holder.uscc);
  return { id: { $case: 'entityUscc', value: holder.uscc }, name: entity?.profile.legalName ?? '' };
}
