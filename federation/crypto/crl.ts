// SM2 certificate revocation lists (RFC 5280 section 5, signed SM2-with-SM3), and the
// facts about a certificate that path validation in x509.ts keeps to itself but
// certificate records and CRL imports need: its signature algorithm and whether it
// may sign CRLs. Parsed with pkijs; signatures verified with our SM2 over the
// original TBSCertList bytes, as x509.ts does for certificates.
import * as asn1js from 'asn1js';
import { CertificateRevocationList } from 'pkijs';
import { CertificateError, EncodingError } from '../errors.js';
import { pemBlocks } from './pem.js';
import { sm3Hex } from './sm3.js';
import { caSignatureVerifies, caUsageOf, oidSm2WithSm3, verifyChain, type ParsedCertificate, type VerifiedCertificate } from './x509.js';

const oidCrlReason = '2.5.29.21';

/** RFC 5280 CRLReason codes. */
export const crlReason = {
  unspecified: 0,
  keyCompromise: 1,
  caCompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCrl: 8,
  privilegeWithdrawn: 9,
  aaCompromise: 10,
} as const;

export interface CrlEntry {
  /** Lowercase hex of the serial's magnitude, leading zero bytes dropped (as ParsedCertificate.serialNumber). */
  readonly serialNumber: string;
  readonly revokedAt: Date;
  /** RFC 5280 CRLReason; undefined when the entry has no reason code. */
  readonly reasonCode: number | undefined;
}

export interface ParsedCrl {
  readonly der: Uint8Array;
  /** The issuer's name as text, e.g. "C=CN, O=Example CA". */
  readonly issuer: string;
  /** Lowercase hex SM3 of the issuer Name DER: with a serial, names a certificate for revocation. */
  readonly issuerNameHash: string;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  readonly entries: readonly CrlEntry[];
  /** OID; SM2-with-SM3 is the only one verifyCrl accepts. */
  readonly signatureAlgorithm: string;
}

const crlDetails = new WeakMap<ParsedCrl, { tbs: Uint8Array; signature: Uint8Array }>();

/** A CRL as PEM ("X509 CRL") or DER. Throws EncodingError for anything else. */
export function parseCrl(pemOrDer: string | Uint8Array): ParsedCrl {
  const der = typeof pemOrDer === 'string' || looksLikePem(pemOrDer) ? crlPemDer(pemOrDer) : pemOrDer;
  let crl: CertificateRevocationList;
  try {
    crl = new CertificateRevocationList({ schema: decode(der, 'CRL') });
  } catch (error) {
    if (error instanceof EncodingError) throw error;
    throw new EncodingError(`not an X.509 CRL: ${(error as Error).message}`);
  }
  const issuerDer = new Uint8Array(crl.issuer.valueBeforeDecode);
  const entries = (crl.revokedCertificates ?? []).map((revoked) => {
    const reason = revoked.crlEntryExtensions?.extensions.find((e) => e.extnID === oidCrlReason)?.parsedValue as unknown;
    return {
      serialNumber: serialHex(revoked.userCertificate.valueBlock.valueHexView),
      revokedAt: revoked.revocationDate.value,
      reasonCode: reason instanceof asn1js.Enumerated ? reason.valueBlock.valueDec : undefined,
    };
  });
  const signature = crl.signatureValue.valueBlock;
  if (signature.unusedBits !== 0) throw new EncodingError('CRL signature BIT STRING has unused bits');
  const parsed: ParsedCrl = {
    der: new Uint8Array(der),
    issuer: nameText(crl.issuer),
    issuerNameHash: sm3Hex(issuerDer),
    thisUpdate: crl.thisUpdate.value,
    nextUpdate: crl.nextUpdate?.value,
    entries,
    signatureAlgorithm: crl.signatureAlgorithm.algorithmId,
  };
  crlDetails.set(parsed, { tbs: new Uint8Array(crl.tbsView), signature: new Uint8Array(signature.valueHexView) });
  return parsed;
}

/**
 * Checks that `crl` is signed (SM2-with-SM3) by a CA certificate that chains to
 * one of `trustRoots` at the CRL's thisUpdate: the CRL issuer is found among
 * `issuerChain` and the roots by name, must be a CA allowed to sign CRLs, and
 * its own path is checked with verifyChain. Returns that path (the CRL issuer
 * first). Throws CertificateError naming the first problem.
 */
export function verifyCrl(crl: ParsedCrl, issuerChain: readonly ParsedCertificate[], trustRoots: readonly ParsedCertificate[]): VerifiedCertificate {
  if (crl.signatureAlgorithm !== oidSm2WithSm3) {
    throw new CertificateError(`CRL of "${crl.issuer}" is not SM2: signature algorithm OID ${crl.signatureAlgorithm}, expected SM2-with-SM3 (${oidSm2WithSm3})`);
  }
  const { tbs, signature } = crlDetails.get(crl) ?? crlDetails.get(parseCrl(crl.der))!;
  const named = [...issuerChain, ...trustRoots].filter((c) => c.subjectNameHash === crl.issuerNameHash);
  if (named.length === 0) throw new CertificateError(`CRL issuer "${crl.issuer}" is neither a trusted root nor in the given issuer chain`);
  const signer = named.find((candidate) => caSignatureVerifies(candidate.publicKey, tbs, signature));
  if (!signer) throw new CertificateError(`CRL signature does not verify under the key of "${crl.issuer}"`);
  const usage = caUsageOf(signer);
  if (!usage.isCertificateAuthority) throw new CertificateError(`CRL issuer "${signer.subject}" is not a CA (basicConstraints)`);
  if (usage.crlSign === false) throw new CertificateError(`CRL issuer "${signer.subject}" keyUsage lacks cRLSign`);
  const intermediates = issuerChain.filter((c) => c !== signer);
  return verifyChain(signer, intermediates, trustRoots, crl.thisUpdate);
}

function decode(der: Uint8Array, what: string): asn1js.AsnType {
  const { offset, result } = asn1js.fromBER(der);
  if (offset === -1 || result.error) throw new EncodingError(`${what} is not valid DER: ${result.error || 'decode failed'}`);
  if (offset !== der.length) throw new EncodingError(`${what} has ${der.length - offset} trailing byte(s)`);
  return result;
}

function crlPemDer(pem: string | Uint8Array): Uint8Array {
  const text = typeof pem === 'string' ? pem : Buffer.from(pem).toString('utf8');
  const blocks = pemBlocks(text).filter((block) => block.label === 'X509 CRL');
  if (blocks.length !== 1) throw new EncodingError(`expected one X509 CRL PEM block, found ${blocks.length}`);
  return blocks[0]!.der;
}

function looksLikePem(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.subarray(0, 4096)).toString('latin1').includes('-----BEGIN');
}

function serialHex(content: Uint8Array): string {
  let start = 0;
  while (start < content.length - 1 && content[start] === 0) start++;
  return Buffer.from(content.subarray(start)).toString('hex');
}

const attributeNames: Record<string, string> = { '2.5.4.3': 'CN', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST', '2.5.4.10': 'O', '2.5.4.11': 'OU' };

function nameText(name: CertificateRevocationList['issuer']): string {
  return name.typesAndValues
    .map(({ type, value }) => {
      const text = (value as { valueBlock?: { value?: unknown } }).valueBlock?.value;
      return `${attributeNames[type] ?? type}=${typeof text === 'string' ? text : '#' + Buffer.from(value.toBER()).toString('hex')}`;
    })
    .join(', ');
}
