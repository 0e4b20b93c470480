import type { CertificateRecord, CertificateRevocationList } from '../gen/tongxing/records/v1/records.js';
import { RevocationReason } from '../gen/tongxing/records/v1/records.js';
import { crlReason, parseCrl, verifyCrl, type ParsedCrl } from './crypto/crl.js';
import { sm3Hex } from './crypto/sm3.js';
import { CertificateTimeError, CertificateUsageError, caUsageOf, checkLoginUsage, checkTimes, oidSm2WithSm3, parseCertificate, signatureAlgorithmOf, verifyChain, type ParsedCertificate } from './crypto/x509.js';
import { CertificateError, EncodingError, ValidationError } from './errors.js';

// Certificate mutual recognition (一锁通行), the pure rules:
// - a certificate record counts when, at the record's hlc, its certificate is
//   SM2, may log in (checkLoginUsage: not a CA, digitalSignature, clientAuth)
//   and its whole chain verifies, validity windows included, to a CA root the
//   alliance trusted then (checked once, at recording, identically on every
//   node): what `tongxing cert verify --at` answers at that time;
// - at check time it must still be allowed to log in (a record accepted by an
//   older rule does not count), be inside the validity window of its whole
//   chain and not revoked; a revocation (a member's word, or a CA-signed CRL)
//   wins over any recording, earlier or later;
// - a login answers a single-use, short-lived challenge signed with the
//   recorded certificate's key.

/**
 * A serial number as records and views name it: lowercase hex of the magnitude
 * without leading zeros (x509.ts drops leading zero bytes, not nibbles).
 */
export const serialNumberKey = (hex: string): string => hex.replace(/^0+(?=.)/, '');

/** Why a certificate record does not count (also why a login with it is refused). */
export type CertificateRefusal = 'malformed' | 'not-sm2' | 'usage-not-allowed' | 'untrusted-ca' | 'not-yet-valid' | 'expired';

/** What views keep of an accepted certificate (JSON). */
export interface CertificateFacts {
  readonly serialNumber: string;
  readonly issuerNameHash: string;
  readonly subject: string;
  /** The issuing CA's name. */
  readonly issuer: string;
  /** The trusted root the chain ends at, and SM3 of its DER (hex). */
  readonly rootCa: string;
  readonly rootFingerprint: string;
  /** The chain's validity window: the latest notBefore and earliest notAfter of leaf, intermediates and root. */
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  /** Hex of the 65-byte SM2 public key. */
  readonly publicKey: string;
  /** Base64 of the leaf DER. */
  readonly der: string;
}

/** An answer, or why not; `field` names the record field at fault when it is not the main DER (e.g. 'intermediatesDer'). */
export type Checked<T> = { readonly ok: T } | { readonly refusal: CertificateRefusal; readonly message: string; readonly field?: string };

const parsedRecords = new WeakMap<CertificateRecord, ParsedCertificate | CertificateRefusalError>();
const parsedRoots = new WeakMap<Uint8Array, ParsedCertificate | null>();

class CertificateRefusalError extends Error {
  constructor(
    readonly refusal: CertificateRefusal,
    message: string,
  ) {
    super(message);
  }
}

/**
 * An SM2 certificate from DER, or why not: 'malformed' (not DER X.509) or
 * 'not-sm2' (another key type or signature algorithm).
 */
export function parseSm2Certificate(der: Uint8Array, what = 'certificate'): Checked<ParsedCertificate> {
  let parsed: ParsedCertificate;
  try {
    parsed = parseCertificate(der);
  } catch (error) {
    if (error instanceof CertificateError) return { refusal: 'not-sm2', message: `${what} not SM2: ${error.message}` };
    if (error instanceof EncodingError) return { refusal: 'malformed', message: `${what}: ${error.message}` };
    throw error;
  }
  const algorithm = signatureAlgorithmOf(parsed);
  if (algorithm !== oidSm2WithSm3) {
    return { refusal: 'not-sm2', message: `${what} not SM2: signed with algorithm OID ${algorithm}, not SM2-with-SM3 (${oidSm2WithSm3})` };
  }
  return { ok: parsed };
}

/** The record's leaf, parsed once per decoded record (views ask for its key, then apply it). */
export function recordCertificate(record: CertificateRecord): Checked<ParsedCertificate> {
  let memo = parsedRecords.get(record);
  if (memo === undefined) {
    const checked = parseSm2Certificate(record.certificateDer);
    memo = 'ok' in checked ? checked.ok : new CertificateRefusalError(checked.refusal, checked.message);
    parsedRecords.set(record, memo);
  }
  return memo instanceof CertificateRefusalError ? { refusal: memo.refusal, message: memo.message } : { ok: memo };
}

/** Trusted roots as policy gives them (DER); a root that does not parse as SM2 trusts nothing. */
export function parseRoots(roots: readonly Uint8Array[]): ParsedCertificate[] {
  const parsed: ParsedCertificate[] = [];
  for (const der of roots) {
    let root = parsedRoots.get(der);
    if (root === undefined) {
      const checked = parseSm2Certificate(der, 'trusted root');
      root = 'ok' in checked ? checked.ok : null;
      parsedRoots.set(der, root);
    }
    if (root) parsed.push(root);
  }
  return parsed;
}

/**
 * The recording rule, the same at the API and in every node's views: at
 * `recordedAtMs` (the record's hlc time) the certificate is SM2, may log in
 * (checkLoginUsage), and chains to one of `roots` (the roots trusted at that
 * hlc) with every certificate of the chain inside its validity window. A
 * certificate not yet valid is refused like an expired one ('not-yet-valid':
 * record it from its notBefore on), so recording agrees with `tongxing cert
 * verify` at the same time.
 */
export function checkCertificateRecord(record: CertificateRecord, roots: readonly Uint8Array[], recordedAtMs: number): Checked<CertificateFacts> {
  const leaf = recordCertificate(record);
  if (!('ok' in leaf)) return leaf;
  const intermediates: ParsedCertificate[] = [];
  for (const [i, der] of record.intermediatesDer.entries()) {
    const checked = parseSm2Certificate(der, `intermediate certificate ${i}`);
    if (!('ok' in checked)) return { ...checked, field: `intermediatesDer[${i}]` };
    intermediates.push(checked.ok);
  }
  const certificate = leaf.ok;
  const at = new Date(recordedAtMs);
  let chain: ParsedCertificate[];
  try {
    checkLoginUsage(certificate); // no SM2 work: before the chain
    checkTimes(certificate, at);
    const trusted = parseRoots(roots);
    if (trusted.length === 0) return { refusal: 'untrusted-ca', message: 'the alliance trusted no CA root when this was recorded' };
    chain = verifyChain(certificate, intermediates, trusted, at).chain;
  } catch (error) {
    if (error instanceof CertificateUsageError) return { refusal: 'usage-not-allowed', message: error.message };
    if (error instanceof CertificateTimeError) return { refusal: error.problem, message: `${error.message}; recorded at ${at.toISOString()}` };
    if (!(error instanceof CertificateError)) throw error;
    return { refusal: 'untrusted-ca', message: `does not chain to a CA root the alliance trusts: ${error.message}` };
  }
  const root = chain[chain.length - 1]!;
  return {
    ok: {
      serialNumber: serialNumberKey(certificate.serialNumber),
      issuerNameHash: certificate.issuerNameHash,
      subject: certificate.subject,
      issuer: certificate.issuer,
      rootCa: root.subject,
      rootFingerprint: sm3Hex(root.der),
      notBeforeMs: Math.max(...chain.map((c) => c.notBefore.getTime())),
      notAfterMs: Math.min(...chain.map((c) => c.notAfter.getTime())),
      publicKey: Buffer.from(certificate.publicKey).toString('hex'),
      der: Buffer.from(certificate.der).toString('base64'),
    },
  };
}

/** What a verified CRL revokes. */
export interface CrlFacts {
  /** The CA that signed it. */
  readonly issuer: string;
  readonly issuerNameHash: string;
  readonly entries: ReadonlyArray<{ readonly serialNumber: string; readonly revokedAtMs: number; readonly reason: RevocationReason }>;
}

/**
 * The CRL import rule: the CRL is SM2-with-SM3, signed by a CA (cRLSign) whose
 * certificate chains, at the CRL's thisUpdate, to a root trusted at the record's hlc.
 */
export function checkCrlRecord(record: CertificateRevocationList, roots: readonly Uint8Array[]): Checked<CrlFacts> {
  let crl: ParsedCrl;
  try {
    crl = parseCrl(record.crlDer);
  } catch (error) {
    if (!(error instanceof EncodingError)) throw error;
    return { refusal: 'malformed', message: `CRL: ${error.message}` };
  }
  const chain: ParsedCertificate[] = [];
  for (const [i, der] of record.issuerChainDer.entries()) {
    const checked = parseSm2Certificate(der, `issuer chain certificate ${i}`);
    if (!('ok' in checked)) return { ...checked, field: `issuerChainDer[${i}]` };
    chain.push(checked.ok);
  }
  const trusted = parseRoots(roots);
  if (trusted.length === 0) return { refusal: 'untrusted-ca', message: 'the alliance trusted no CA root when this was recorded' };
  try {
    verifyCrl(crl, chain, trusted);
  } catch (error) {
    if (!(error instanceof CertificateError)) throw error;
    const refusal = crl.signatureAlgorithm !== oidSm2WithSm3 ? 'not-sm2' : 'untrusted-ca';
    return { refusal, message: error.message };
  }
  return {
    ok: {
      issuer: crl.issuer,
      issuerNameHash: crl.issuerNameHash,
      entries: crl.entries.map((e) => ({ serialNumber: serialNumberKey(e.serialNumber), revokedAtMs: e.revokedAt.getTime(), reason: revocationReasonOf(e.reasonCode) })),
    },
  };
}

/** RFC 5280 CRLReason to the record's reason; a hold is recorded as a CA notice (and, like any revocation here, is permanent). */
export function revocationReasonOf(code: number | undefined): RevocationReason {
  switch (code) {
    case crlReason.keyCompromise:
    case crlReason.caCompromise:
    case crlReason.aaCompromise:
      return RevocationReason.REVOCATION_REASON_KEY_COMPROMISE;
    case crlReason.superseded:
      return RevocationReason.REVOCATION_REASON_SUPERSEDED;
    case crlReason.cessationOfOperation:
    case crlReason.affiliationChanged:
      return RevocationReason.REVOCATION_REASON_CESSATION;
    default:
      return RevocationReason.REVOCATION_REASON_CA_NOTICE;
  }
}

/** Whether the certificate may sign CRLs, for operators choosing the chain to import with (true when it has no keyUsage). */
export function maySignCrls(certificate: ParsedCertificate): boolean {
  const usage = caUsageOf(certificate);
  return usage.isCertificateAuthority && usage.crlSign !== false;
}

// ---- standing at a time ----

/** Why a certificate (or a login with it) is refused at a time, or 'valid'. */
export type CertificateOutcome = 'valid' | 'not-recorded' | 'revoked' | 'untrusted-ca' | 'not-yet-valid' | 'expired';

export interface RevocationFact {
  readonly revokedAtMs: number;
  /** Where it was stated: the author's log position. */
  readonly author: string;
  readonly fromCrl: boolean;
}

export interface StandingInput {
  /** The recording that counts (earliest accepted), if any. */
  readonly facts: CertificateFacts | undefined;
  /** Refusals of records of this certificate (e.g. untrusted CA at their recording time), earliest first. */
  readonly refusals: ReadonlyArray<{ readonly refusal: CertificateRefusal; readonly message: string }>;
  /** Every revocation, earliest first. */
  readonly revocations: readonly RevocationFact[];
}

/**
 * The standing of a certificate at `atMs`, in this order: revoked (whatever
 * else), not recorded (or recorded only under an untrusted CA: 'untrusted-ca';
 * only refused for another reason: 'not-recorded' with that reason), CA no
 * longer trusted (when `rootTrustedNow` is given), not allowed to log in
 * (checkLoginUsage: a record accepted before that rule does not count:
 * 'not-recorded' naming the rule), not yet valid, expired.
 */
export function certificateOutcome(input: StandingInput, atMs: number, rootTrustedNow?: (fingerprintHex: string) => boolean): { outcome: CertificateOutcome; detail: string } {
  const revoked = input.revocations.find((r) => r.revokedAtMs <= atMs);
  if (revoked) {
    const source = revoked.fromCrl ? 'a CA-signed CRL' : 'a member';
    return { outcome: 'revoked', detail: `revoked at ${new Date(revoked.revokedAtMs).toISOString()} (recorded from ${source})` };
  }
  const facts = input.facts;
  if (!facts) {
    if (input.refusals.some((r) => r.refusal === 'untrusted-ca')) return { outcome: 'untrusted-ca', detail: 'it was recorded, but it does not chain to a CA root the alliance trusts' };
    const refused = input.refusals[0];
    if (refused) return { outcome: 'not-recorded', detail: `it was recorded, but no record of it counts: ${refused.message}` };
    return { outcome: 'not-recorded', detail: 'no member has recorded this certificate' };
  }
  if (rootTrustedNow && !rootTrustedNow(facts.rootFingerprint)) {
    return { outcome: 'untrusted-ca', detail: `the alliance no longer trusts its root CA "${facts.rootCa}"` };
  }
  const usage = loginUsageProblem(facts);
  if (usage !== undefined) return { outcome: 'not-recorded', detail: `its record does not count: ${usage}` };
  if (atMs < facts.notBeforeMs) return { outcome: 'not-yet-valid', detail: `valid from ${new Date(facts.notBeforeMs).toISOString()}` };
  if (atMs > facts.notAfterMs) return { outcome: 'expired', detail: `expired at ${new Date(facts.notAfterMs).toISOString()}` };
  return { outcome: 'valid', detail: `issued by "${facts.issuer}", root CA "${facts.rootCa}"` };
}

/** Why the recorded certificate may not log in, or undefined. Parses the DER (a fraction of the SM2 verification a login costs). */
function loginUsageProblem(facts: CertificateFacts): string | undefined {
  const recorded = parseCertificate(Buffer.from(facts.der, 'base64')); // parsed when it was recorded: cannot fail
  try {
    checkLoginUsage(recorded);
    return undefined;
  } catch (error) {
    if (!(error instanceof CertificateUsageError)) throw error;
    return error.message;
  }
}

// ---- login challenges ----

/** Bytes of a login challenge: as much entropy as an SM3 digest. */
export const challengeBytes = 32;

/**
 * A signature as USB keys and OpenSSL give it: raw 64-byte r||s, or DER
 * SEQUENCE { INTEGER r, INTEGER s } (short-form lengths). Checked before a
 * challenge is used up, so malformed input is an error naming the field.
 */
export function requireSignatureEncoding(signature: Uint8Array, field: string): void {
  if (signature.length === 0) throw new ValidationError(field, 'missing');
  if (signature.length === 64) return;
  const fail = (why: string) => new ValidationError(field, `neither raw r||s (64 bytes) nor DER SEQUENCE { r, s }: ${why}`);
  if (signature[0] !== 0x30) throw fail(`${signature.length} bytes, not starting with a SEQUENCE`);
  if (signature[1] !== signature.length - 2) throw fail('SEQUENCE length does not match');
  let offset = 2;
  for (const name of ['r', 's']) {
    if (signature[offset] !== 0x02) throw fail(`${name} is not an INTEGER`);
    const size = signature[offset + 1] ?? 0;
    if (size === 0 || size > 33 || offset + 2 + size > signature.length) throw fail(`${name} has a bad length`);
    offset += 2 + size;
  }
  if (offset !== signature.length) throw fail('bytes after s');
}

/** SM3 of a certificate's DER, the fingerprint trusted roots are named by (hex). */
export const fingerprintOf = (der: Uint8Array): string => sm3Hex(der);
