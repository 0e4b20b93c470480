// SM2 X.509 certificates (GM/T 0015): parsed with pkijs, verified with our SM2.
// pkijs and Node's X509Certificate can parse these but not verify them (they lack the
// Z value / default ID), so each TBSCertificate's original bytes go to sm2.verify.
import * as asn1js from 'asn1js';
import { BasicConstraints, Certificate, ExtKeyUsage, type RelativeDistinguishedNames } from 'pkijs';
import { AssertionError, CertificateError, EncodingError, TongxingError, assert } from '../errors.js';
import { pemBlocks, publicKeyFromSpki } from './pem.js';
import { verify } from './sm2.js';
import { sm3Hex } from './sm3.js';
import { caSignaturesRememberedMax, chainCertificatesMax } from '../limits.js';
import { VerifiedSignatures } from './verified-signatures.js';

export const oidSm2WithSm3 = '1.2.156.10197.1.501';

const oidBasicConstraints = '2.5.29.19';
const oidKeyUsage = '2.5.29.15';
const oidExtendedKeyUsage = '2.5.29.37';
const oidAnyExtendedKeyUsage = '2.5.29.37.0';
const oidClientAuth = '1.3.6.1.5.5.7.3.2';
/** Critical extensions we understand or that do not restrict path validation. */
const understoodCriticalExtensions = new Set([
  oidBasicConstraints,
  oidKeyUsage,
  oidExtendedKeyUsage, // the caller decides what a leaf may be used for (checkLoginUsage for logins)
  '2.5.29.17', // subjectAltName
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.35', // authorityKeyIdentifier
  '2.5.29.32', // certificatePolicies
]);

const attributeNames: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'street',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.42': 'GN',
  '2.5.4.97': 'organizationIdentifier',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

export interface ParsedCertificate {
  /** The certificate as given (DER). */
  der: Uint8Array;
  /** Attributes in encoding order, e.g. "C=CN, O=Example, CN=city-a". */
  subject: string;
  issuer: string;
  /** Lowercase hex of the serial's magnitude, leading zero bytes dropped. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** 65 bytes 04 || x || y. */
  publicKey: Uint8Array;
  /** Lowercase hex SM3 of the issuer Name DER; with serialNumber, names a certificate for revocation. */
  issuerNameHash: string;
  subjectNameHash: string;
}

export interface VerifiedCertificate extends ParsedCertificate {
  /** Leaf first, the trust root last. */
  chain: ParsedCertificate[];
}

/** What path validation needs beyond the public fields; kept out of ParsedCertificate. */
interface Details {
  tbs: Uint8Array;
  signature: Uint8Array;
  signatureAlgorithm: string;
  tbsSignatureAlgorithm: string;
  issuerDer: Uint8Array;
  subjectDer: Uint8Array;
  isCertificateAuthority: boolean;
  pathLengthMax: number | undefined;
  /** undefined when the certificate has no keyUsage extension (any use allowed). */
  keyCertSign: boolean | undefined;
  /** keyUsage bits asserted, by name; undefined without a keyUsage extension. */
  keyUsages: KeyUsage[] | undefined;
  /** extendedKeyUsage purposes (OIDs); undefined without the extension (any purpose). */
  extendedKeyUsages: string[] | undefined;
  unsupportedCriticalExtension: string | undefined;
}

/** RFC 5280 4.2.1.3 KeyUsage bits, in bit order (bit 0 is the most significant bit of the first byte). */
export const keyUsageNames = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
export type KeyUsage = (typeof keyUsageNames)[number];

const extendedKeyUsageNames: Record<string, string> = {
  [oidAnyExtendedKeyUsage]: 'anyExtendedKeyUsage',
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  [oidClientAuth]: 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
};

/**
 * Extended key usages that let a certificate log in: clientAuth, and
 * anyExtendedKeyUsage (RFC 5280 4.2.1.12: the CA restricts nothing). No
 * Chinese-specific purpose is added: none was found in a primary source
 * (docs/DOMAIN.md, "SM2 certificates"); one found in the field joins this set
 * with its source.
 */
const loginExtendedKeyUsages: ReadonlySet<string> = new Set([oidClientAuth, oidAnyExtendedKeyUsage]);

/** A certificate outside its validity window at the time asked: `problem` says which side. */
export class CertificateTimeError extends CertificateError {
  override name = 'CertificateTimeError';
  constructor(
    readonly problem: 'not-yet-valid' | 'expired',
    message: string,
  ) {
    super(message);
  }
}

/** A certificate used for something its keyUsage, extendedKeyUsage or basicConstraints do not allow. */
export class CertificateUsageError extends CertificateError {
  override name = 'CertificateUsageError';
}

const details = new WeakMap<ParsedCertificate, Details>();

/**
 * Every certificate in a PEM text (CERTIFICATE blocks, other blocks ignored) or one DER
 * certificate. Throws EncodingError for malformed input, CertificateError for a certificate
 * whose key is not SM2.
 */
export function readCertificates(pemOrDer: string | Uint8Array): ParsedCertificate[] {
  if (typeof pemOrDer !== 'string' && !looksLikePem(pemOrDer)) return [parseDer(pemOrDer)];
  const text = typeof pemOrDer === 'string' ? pemOrDer : Buffer.from(pemOrDer).toString('utf8');
  const blocks = pemBlocks(text).filter((block) => block.label === 'CERTIFICATE');
  if (blocks.length === 0) throw new EncodingError('no CERTIFICATE PEM block found');
  return blocks.map((block) => parseDer(block.der));
}

/** Exactly one certificate, PEM or DER. */
export function parseCertificate(pemOrDer: string | Uint8Array): ParsedCertificate {
  const certificates = readCertificates(pemOrDer);
  if (certificates.length !== 1) throw new EncodingError(`expected one certificate, found ${certificates.length}`);
  return certificates[0]!;
}

/**
 * Builds and checks the path leaf -> intermediates -> one of `trustRoots` at time `at`:
 * validity of every certificate, SM2-with-SM3 signatures over the original TBS bytes
 * (default ID), issuers with basicConstraints CA and (if keyUsage is present) keyCertSign,
 * pathLenConstraint, no unsupported critical extensions. Issuers are matched by exact Name
 * DER. Throws CertificateError naming the first problem found walking up from the leaf.
 * Trust roots' own signatures are not checked: they are trusted by configuration.
 */
export function verifyChain(
  leaf: ParsedCertificate,
  intermediates: readonly ParsedCertificate[],
  trustRoots: readonly ParsedCertificate[],
  at: Date,
): VerifiedCertificate {
  assert(!Number.isNaN(at.getTime()), 'verifyChain: invalid date');
  const chain: ParsedCertificate[] = [leaf];
  for (;;) {
    const current = chain[chain.length - 1]!;
    checkTimes(current, at);
    checkCriticalExtensions(current);
    if (trustRoots.some((root) => sameDer(root, current))) break;
    if (chain.length >= chainCertificatesMax) {
      throw new CertificateError(`not signed by any trusted root within ${chainCertificatesMax} certificates`);
    }
    const issuer = findIssuer(current, intermediates, trustRoots);
    if (chain.some((seen) => sameDer(seen, issuer))) {
      throw new CertificateError(`${certificateLabel(current)} is not signed by any trusted root (issuer loop)`);
    }
    checkPathLength(issuer, chain.length - 1);
    chain.push(issuer);
  }
  return { ...leaf, chain };
}

/** The certificate among trust roots and intermediates that issued `cert`, or a CertificateError. */
function findIssuer(
  cert: ParsedCertificate,
  intermediates: readonly ParsedCertificate[],
  trustRoots: readonly ParsedCertificate[],
): ParsedCertificate {
  const own = detailsOf(cert);
  if (own.signatureAlgorithm !== oidSm2WithSm3) {
    const oid = own.signatureAlgorithm;
    throw new CertificateError(`${certificateLabel(cert)}: signature algorithm is not SM2-with-SM3 (OID ${oid})`);
  }
  if (own.tbsSignatureAlgorithm !== own.signatureAlgorithm) {
    const oid = own.tbsSignatureAlgorithm;
    throw new CertificateError(`${certificateLabel(cert)}: TBS signature algorithm ${oid} differs from the outer one`);
  }
  const named = [...trustRoots, ...intermediates].filter(
    (candidate) => !sameDer(candidate, cert) && Buffer.from(detailsOf(candidate).subjectDer).equals(own.issuerDer),
  );
  if (named.length === 0) {
    throw new CertificateError(`${certificateLabel(cert)} is not signed by any trusted root (issuer "${cert.issuer}" not found)`);
  }
  let misuse: CertificateError | undefined;
  for (const candidate of named) {
    if (!caSignatureVerifies(candidate.publicKey, own.tbs, own.signature)) continue;
    const issuer = detailsOf(candidate);
    if (!issuer.isCertificateAuthority) {
      misuse ??= new CertificateError(`issuer ${certificateLabel(candidate)} is not a CA (basicConstraints)`);
    } else if (issuer.keyCertSign === false) {
      misuse ??= new CertificateError(`issuer ${certificateLabel(candidate)} keyUsage lacks keyCertSign`);
    } else {
      return candidate;
    }
  }
  throw misuse ?? new CertificateError(`${certificateLabel(cert)}: signature does not verify under issuer "${cert.issuer}"`);
}

/**
 * One certificate's signature is checked when it is recorded at the API, again
 * by the views that apply the record, and at every login (intermediates under
 * their roots over and over); a CRL's, when it is imported and again by the
 * views. Each is verified once.
 */
const verifiedCaSignatures = new VerifiedSignatures(caSignaturesRememberedMax);

/** Whether a CA's SM2 `signature` over `tbs` (a certificate's or a CRL's) verifies under `publicKey`; a malformed signature verifies under no key. */
export function caSignatureVerifies(publicKey: Uint8Array, tbs: Uint8Array, signature: Uint8Array): boolean {
  const claim = verifiedCaSignatures.claimOf(publicKey, tbs, signature);
  if (verifiedCaSignatures.has(claim)) return true;
  let valid: boolean;
  try {
    valid = verify(publicKey, tbs, signature);
  } catch (error) {
    if (error instanceof EncodingError) return false;
    throw error;
  }
  if (valid) verifiedCaSignatures.add(claim);
  return valid;
}

/** basicConstraints cA, and keyUsage cRLSign (undefined when the certificate has no keyUsage). */
export function caUsageOf(cert: ParsedCertificate): { isCertificateAuthority: boolean; crlSign: boolean | undefined } {
  const { isCertificateAuthority, keyUsages } = detailsOf(cert);
  return { isCertificateAuthority, crlSign: keyUsages?.includes('cRLSign') };
}

/** The outer signature algorithm OID; SM2 certificates use SM2-with-SM3. */
export const signatureAlgorithmOf = (cert: ParsedCertificate): string => detailsOf(cert).signatureAlgorithm;

/** Throws CertificateTimeError when `at` is outside [notBefore, notAfter] (both ends inclusive, RFC 5280 4.1.2.5). */
export function checkTimes(cert: ParsedCertificate, at: Date): void {
  if (at < cert.notBefore) {
    throw new CertificateTimeError('not-yet-valid', `${certificateLabel(cert)} is not yet valid (notBefore ${cert.notBefore.toISOString()})`);
  }
  if (at > cert.notAfter) throw new CertificateTimeError('expired', `${certificateLabel(cert)} expired at ${cert.notAfter.toISOString()}`);
}

/**
 * The login rule for an end-entity certificate (what a certificate record
 * binds to a holder, and a login or a signed score sheet is checked with),
 * RFC 5280 4.2.1.3, 4.2.1.9 and 4.2.1.12: not a CA (basicConstraints CA:TRUE,
 * or keyUsage keyCertSign, which RFC 5280 allows only with CA:TRUE); keyUsage,
 * when present, asserts digitalSignature (the key signs a challenge);
 * extendedKeyUsage, when present (critical or not, as OpenSSL reads it),
 * allows clientAuth or anyExtendedKeyUsage. `openssl verify -purpose sslclient`
 * refuses what this refuses, except that OpenSSL also lets keyAgreement alone
 * through (for TLS key exchange, not a signature) and does not look at the
 * leaf's CA flag. Throws CertificateUsageError naming the rule.
 */
export function checkLoginUsage(cert: ParsedCertificate): void {
  const { isCertificateAuthority, keyUsages, extendedKeyUsages } = detailsOf(cert);
  const label = certificateLabel(cert);
  if (isCertificateAuthority) {
    throw new CertificateUsageError(`${label} is a CA certificate (basicConstraints CA:TRUE): it issues certificates and may not log in (RFC 5280 4.2.1.9)`);
  }
  if (keyUsages?.includes('keyCertSign')) {
    throw new CertificateUsageError(`${label} keyUsage allows keyCertSign, a CA's usage: it may not log in (RFC 5280 4.2.1.3)`);
  }
  if (keyUsages !== undefined && !keyUsages.includes('digitalSignature')) {
    const shown = keyUsages.join(', ') || 'no bit set';
    throw new CertificateUsageError(`${label} keyUsage (${shown}) lacks digitalSignature: its key may not sign a login (RFC 5280 4.2.1.3)`);
  }
  if (extendedKeyUsages !== undefined && !extendedKeyUsages.some((oid) => loginExtendedKeyUsages.has(oid))) {
    const shown = extendedKeyUsages.map((oid) => extendedKeyUsageNames[oid] ?? oid).join(', ');
    throw new CertificateUsageError(`${label} extendedKeyUsage (${shown}) allows neither clientAuth nor anyExtendedKeyUsage: it may not log in (RFC 5280 4.2.1.12)`);
  }
}

function checkCriticalExtensions(cert: ParsedCertificate): void {
  const oid = detailsOf(cert).unsupportedCriticalExtension;
  if (oid !== undefined) {
    throw new CertificateError(`${certificateLabel(cert)} has an unsupported critical extension (OID ${oid})`);
  }
}

/** `casBelow`: CA certificates between this issuer and the leaf. */
function checkPathLength(issuer: ParsedCertificate, casBelow: number): void {
  const { pathLengthMax } = detailsOf(issuer);
  if (pathLengthMax !== undefined && casBelow > pathLengthMax) {
    const label = certificateLabel(issuer);
    throw new CertificateError(`issuer ${label} allows ${pathLengthMax} CA(s) below it, chain has ${casBelow}`);
  }
}

/**
 * parseDerFields, with what asn1js and pkijs throw on bytes they cannot read
 * (a RangeError for a BMPString of odd length, TypeErrors for missing parts)
 * turned into an EncodingError: malformed input is the caller's, not a bug.
 */
function parseDer(der: Uint8Array): ParsedCertificate {
  try {
    return parseDerFields(der);
  } catch (error) {
    if (error instanceof TongxingError || error instanceof AssertionError) throw error;
    throw new EncodingError(`certificate does not decode: ${(error as Error).message}`);
  }
}

function parseDerFields(der: Uint8Array): ParsedCertificate {
  const { offset, result } = asn1js.fromBER(der);
  if (offset === -1 || result.error) throw new EncodingError(`certificate is not valid DER: ${result.error || 'decode failed'}`);
  if (offset !== der.length) throw new EncodingError(`certificate has ${der.length - offset} trailing byte(s)`);
  let certificate: Certificate;
  try {
    certificate = new Certificate({ schema: result });
  } catch (error) {
    throw new EncodingError(`not an X.509 certificate: ${(error as Error).message}`);
  }
  const subjectDer = nameDer(certificate.subject);
  const issuerDer = nameDer(certificate.issuer);
  const subject = nameText(certificate.subject);
  let publicKey: Uint8Array;
  try {
    publicKey = publicKeyFromSpki(new Uint8Array(certificate.subjectPublicKeyInfo.toSchema().toBER()));
  } catch (error) {
    if (!(error instanceof EncodingError)) throw error;
    throw new CertificateError(`certificate "${subject}": ${error.message}`);
  }
  const signatureBits = certificate.signatureValue.valueBlock;
  if (signatureBits.unusedBits !== 0) throw new EncodingError('certificate signature BIT STRING has unused bits');
  const parsed: ParsedCertificate = {
    der: new Uint8Array(der),
    subject,
    issuer: nameText(certificate.issuer),
    serialNumber: serialHex(certificate.serialNumber.valueBlock.valueHexView),
    notBefore: certificate.notBefore.value,
    notAfter: certificate.notAfter.value,
    publicKey,
    issuerNameHash: sm3Hex(issuerDer),
    subjectNameHash: sm3Hex(subjectDer),
  };
  details.set(parsed, {
    tbs: new Uint8Array(certificate.tbsView),
    signature: new Uint8Array(signatureBits.valueHexView),
    signatureAlgorithm: certificate.signatureAlgorithm.algorithmId,
    tbsSignatureAlgorithm: certificate.signature.algorithmId,
    issuerDer,
    subjectDer,
    ...extensionsOf(certificate),
  });
  return parsed;
}

function extensionsOf(
  certificate: Certificate,
): Pick<Details, 'isCertificateAuthority' | 'pathLengthMax' | 'keyCertSign' | 'keyUsages' | 'extendedKeyUsages' | 'unsupportedCriticalExtension'> {
  let isCertificateAuthority = false;
  let pathLengthMax: number | undefined;
  let keyCertSign: boolean | undefined;
  let keyUsages: KeyUsage[] | undefined;
  let extendedKeyUsages: string[] | undefined;
  let unsupportedCriticalExtension: string | undefined;
  for (const extension of certificate.extensions ?? []) {
    const value = extension.parsedValue as unknown;
    if (extension.extnID === oidBasicConstraints) {
      if (!(value instanceof BasicConstraints)) throw new EncodingError('certificate basicConstraints is malformed');
      isCertificateAuthority = value.cA;
      const limit = value.pathLenConstraint;
      pathLengthMax = limit instanceof asn1js.Integer ? limit.valueBlock.valueDec : limit;
    } else if (extension.extnID === oidKeyUsage) {
      if (!(value instanceof asn1js.BitString)) throw new EncodingError('certificate keyUsage is malformed');
      const bits = value.valueBlock.valueHexView;
      keyUsages = keyUsageNames.filter((_, bit) => ((bits[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) !== 0);
      keyCertSign = keyUsages.includes('keyCertSign');
    } else if (extension.extnID === oidExtendedKeyUsage) {
      if (!(value instanceof ExtKeyUsage)) throw new EncodingError('certificate extendedKeyUsage is malformed');
      extendedKeyUsages = value.keyPurposes;
    } else if (extension.critical && !understoodCriticalExtensions.has(extension.extnID)) {
      unsupportedCriticalExtension ??= extension.extnID;
    }
  }
  return { isCertificateAuthority, pathLengthMax, keyCertSign, keyUsages, extendedKeyUsages, unsupportedCriticalExtension };
}

/** A ParsedCertificate built elsewhere (e.g. structuredClone) is re-parsed from its DER. */
function detailsOf(cert: ParsedCertificate): Details {
  let found = details.get(cert);
  if (found === undefined) {
    found = details.get(parseDer(cert.der))!;
    details.set(cert, found);
  }
  return found;
}

function nameDer(name: RelativeDistinguishedNames): Uint8Array {
  // The original bytes: a re-encoding could differ and break issuer matching and hashes.
  assert(name.valueBeforeDecode.byteLength > 0, 'Name without original encoding');
  return new Uint8Array(name.valueBeforeDecode);
}

function nameText(name: RelativeDistinguishedNames): string {
  return name.typesAndValues
    .map(({ type, value }) => {
      const text = (value as { valueBlock?: { value?: unknown } }).valueBlock?.value;
      const shown =
        typeof text === 'string'
          ? text.replace(/[\\,+"<>;]/g, '\\$&') // RFC 4514 escaping
          : '#' + Buffer.from(value.toBER()).toString('hex');
      return `${attributeNames[type] ?? type}=${shown}`;
    })
    .join(', ');
}

function serialHex(content: Uint8Array): string {
  let start = 0;
  while (start < content.length - 1 && content[start] === 0) start++;
  return Buffer.from(content.subarray(start)).toString('hex');
}

function certificateLabel(cert: ParsedCertificate): string {
  return `certificate "${cert.subject}"`;
}

function sameDer(a: ParsedCertificate, b: ParsedCertificate): boolean {
  return a === b || Buffer.from(a.der).equals(b.der);
}

function looksLikePem(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.subarray(0, 4096)).toString('latin1').includes('-----BEGIN');
}
