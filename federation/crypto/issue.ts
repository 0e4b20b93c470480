import * as asn1js from 'asn1js';
import { AlgorithmIdentifier, AttributeTypeAndValue, BasicConstraints, Certificate, ExtKeyUsage, Extension, PublicKeyInfo } from 'pkijs';
import { keyUsageNames, oidSm2WithSm3, type KeyUsage } from './x509.js';
import { oidEcPublicKey, oidSm2 } from './pem.js';
import { assertPublicKey, sign, type Sm2KeyPair } from './sm2.js';

// Issues SM2 X.509 certificates (GM/T 0015) in-process: the demo's CA and the
// user certificates it logs in with, on machines without the openssl CLI.
// Tests check that OpenSSL accepts what this makes.

/** One common name: pkijs would put more attributes into one multi-valued RDN, which OpenSSL verifies differently. */
export interface CertificateName {
  readonly commonName: string;
}

export interface IssueInput {
  readonly subject: CertificateName;
  /** 65-byte uncompressed SM2 point. */
  readonly publicKey: Uint8Array;
  /** The issuer's name and key; the subject's own for a self-signed root. */
  readonly issuer: { readonly name: CertificateName; readonly keyPair: Sm2KeyPair };
  readonly serialNumber: bigint;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** A CA certificate (basicConstraints CA, keyCertSign and cRLSign); otherwise an end-entity signing certificate. */
  readonly ca?: boolean;
  /** keyUsage bits instead of the default above (tests of certificates misused). */
  readonly keyUsage?: readonly KeyUsage[];
  /** An extendedKeyUsage extension with these purpose OIDs; none by default. */
  readonly extendedKeyUsage?: { readonly purposes: readonly string[]; readonly critical: boolean };
}

/** DER BIT STRING of the named keyUsage bits (RFC 5280 4.2.1.3), trailing zero bits dropped as DER requires. */
function keyUsageBits(usages: readonly KeyUsage[]): asn1js.BitString {
  const bits = usages.map((usage) => keyUsageNames.indexOf(usage));
  const length = bits.length === 0 ? 0 : Math.max(...bits) + 1;
  const bytes = new Uint8Array(Math.ceil(length / 8));
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return new asn1js.BitString({ valueHex: bytes.buffer, unusedBits: bytes.length * 8 - length });
}

const names = (name: CertificateName): AttributeTypeAndValue[] => [new AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: name.commonName }) })];

function serialBytes(serial: bigint): ArrayBuffer {
  let hex = serial.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = '00' + hex; // stays positive
  return new Uint8Array(Buffer.from(hex, 'hex')).buffer;
}

/** DER of a certificate signed with SM2-with-SM3 (default ID) by the issuer's key. */
export function issueCertificate(input: IssueInput): Buffer {
  assertPublicKey(input.publicKey);
  const certificate = new Certificate();
  certificate.version = 2;
  certificate.serialNumber = new asn1js.Integer({ valueHex: serialBytes(input.serialNumber) });
  certificate.subject.typesAndValues = names(input.subject);
  certificate.issuer.typesAndValues = names(input.issuer.name);
  certificate.notBefore.value = input.notBefore;
  certificate.notAfter.value = input.notAfter;
  certificate.subjectPublicKeyInfo = new PublicKeyInfo({
    algorithm: new AlgorithmIdentifier({ algorithmId: oidEcPublicKey, algorithmParams: new asn1js.ObjectIdentifier({ value: oidSm2 }) }),
    subjectPublicKey: new asn1js.BitString({ valueHex: new Uint8Array(input.publicKey).buffer }),
  });
  const algorithm = () => new AlgorithmIdentifier({ algorithmId: oidSm2WithSm3 });
  certificate.signature = algorithm();
  certificate.signatureAlgorithm = algorithm();
  const keyUsage = keyUsageBits(input.keyUsage ?? (input.ca ? ['keyCertSign', 'cRLSign'] : ['digitalSignature']));
  certificate.extensions = [
    new Extension({ extnID: '2.5.29.19', critical: true, extnValue: new BasicConstraints({ cA: input.ca === true }).toSchema().toBER(false) }),
    new Extension({ extnID: '2.5.29.15', critical: true, extnValue: keyUsage.toBER(false) }),
  ];
  if (input.extendedKeyUsage) {
    const { purposes, critical } = input.extendedKeyUsage;
    certificate.extensions.push(new Extension({ extnID: '2.5.29.37', critical, extnValue: new ExtKeyUsage({ keyPurposes: [...purposes] }).toSchema().toBER(false) }));
  }
  const tbs = new Uint8Array(certificate.encodeTBS().toBER(false));
  certificate.tbsView = tbs; // toSchema(false) emits exactly the bytes that were signed
  const { privateKey, publicKey } = input.issuer.keyPair;
  certificate.signatureValue = new asn1js.BitString({ valueHex: new Uint8Array(sign(privateKey, tbs, publicKey)).buffer });
  return Buffer.from(certificate.toSchema(false).toBER(false));
}
