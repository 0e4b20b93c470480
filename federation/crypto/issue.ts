import * as asn1js from 'asn1js';
import { AlgorithmIdentifier, AttributeTypeAndValue, BasicConstraints, Certificate, Extension, PublicKeyInfo } from 'pkijs';
import { oidSm2WithSm3 } from './x509.js';
import { assertPublicKey, sign, type Sm2KeyPair } from './sm2.js';

// Issues SM2 X.509 certificates (GM/T 0015) in-process: the demo's CA and the
// user certificates it logs in with, on machines without the openssl CLI.
// Tests check that OpenSSL accepts what this makes.

const oidEcPublicKey = '1.2.840.10045.2.1';
const oidSm2Curve = '1.2.156.10197.1.301';

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
    algorithm: new AlgorithmIdentifier({ algorithmId: oidEcPublicKey, algorithmParams: new asn1js.ObjectIdentifier({ value: oidSm2Curve }) }),
    subjectPublicKey: new asn1js.BitString({ valueHex: new Uint8Array(input.publicKey).buffer }),
  });
  const algorithm = () => new AlgorithmIdentifier({ algorithmId: oidSm2WithSm3 });
  certificate.signature = algorithm();
  certificate.signatureAlgorithm = algorithm();
  // keyUsage bits: digitalSignature (0) for a signing certificate; keyCertSign (5) and cRLSign (6) for a CA.
  const keyUsage = input.ca ? new asn1js.BitString({ valueHex: new Uint8Array([0x06]).buffer, unusedBits: 1 }) : new asn1js.BitString({ valueHex: new Uint8Array([0x80]).buffer, unusedBits: 7 });
  certificate.extensions = [
    new Extension({ extnID: '2.5.29.19', critical: true, extnValue: new BasicConstraints({ cA: input.ca === true }).toSchema().toBER(false) }),
    new Extension({ extnID: '2.5.29.15', critical: true, extnValue: keyUsage.toBER(false) }),
  ];
  const tbs = new Uint8Array(certificate.encodeTBS().toBER(false));
  certificate.tbsView = tbs; // toSchema(false) emits exactly the bytes that were signed
  const { privateKey, publicKey } = input.issuer.keyPair;
  certificate.signatureValue = new asn1js.BitString({ valueHex: new Uint8Array(sign(privateKey, tbs, publicKey)).buffer });
  return Buffer.from(certificate.toSchema(false).toBER(false));
}
