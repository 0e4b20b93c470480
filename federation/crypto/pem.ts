// SM2 keys on disk: PKCS#8 (private) and SPKI (public) PEM, as `openssl genpkey -algorithm
// SM2` and `openssl pkey -pubout` write them. We parse with asn1js rather than
// crypto.createPrivateKey because Node 20 cannot tell us the curve of an SM2 key
// (asymmetricKeyType is undefined) and we want errors that say what the key is instead.
import * as asn1js from 'asn1js';
import { EncodingError } from '../errors.js';
import { assertPublicKey, keyPairFromPrivateKey, type Sm2KeyPair } from './sm2.js';

export const oidEcPublicKey = '1.2.840.10045.2.1';
/** The SM2 curve; GM/T 0015-2023 also allows it as the key algorithm itself. */
export const oidSm2 = '1.2.156.10197.1.301';

const keyAlgorithmNames: Record<string, string> = {
  '1.2.840.113549.1.1.1': 'RSA',
  '1.2.840.113549.1.1.10': 'RSA-PSS',
  '1.2.840.10040.4.1': 'DSA',
  '1.2.840.10046.2.1': 'DH',
  '1.3.101.110': 'X25519',
  '1.3.101.111': 'X448',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
};

const curveNames: Record<string, string> = {
  '1.2.840.10045.3.1.1': 'P-192',
  '1.3.132.0.33': 'P-224',
  '1.2.840.10045.3.1.7': 'P-256 (prime256v1)',
  '1.3.132.0.34': 'P-384',
  '1.3.132.0.35': 'P-521',
  '1.3.132.0.10': 'secp256k1',
  '1.3.36.3.3.2.8.1.1.7': 'brainpoolP256r1',
};

export interface PemBlock {
  label: string;
  der: Uint8Array;
}

/** Every `-----BEGIN X-----` block in `text`, in order; text outside blocks is ignored. */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  const pattern = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;
  for (const match of text.matchAll(pattern)) {
    const [, label = '', body = '', endLabel] = match;
    if (endLabel !== label) throw new EncodingError(`PEM block BEGIN ${label} ends with END ${endLabel}`);
    if (body.includes(':')) {
      // RFC 1421 headers: only legacy encrypted keys (Proc-Type: 4,ENCRYPTED) use them.
      throw new EncodingError(`PEM ${label} has headers (an encrypted key?); decrypt it with \`openssl pkey\``);
    }
    const base64 = body.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) {
      throw new EncodingError(`PEM ${label} is not valid base64`);
    }
    blocks.push({ label, der: new Uint8Array(Buffer.from(base64, 'base64')) });
  }
  return blocks;
}

export function toPem(label: string, der: Uint8Array): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * PKCS#8 ("PRIVATE KEY") or SEC1 ("EC PRIVATE KEY", or "SM2 PRIVATE KEY" as `openssl ec`
 * labels it) SM2 private key. Throws EncodingError
 * for malformed PEM/DER, an encrypted key, another key type or curve, or an embedded public
 * key that does not match the private key.
 */
export function readPrivateKeyPem(pem: string): Sm2KeyPair {
  const block = onlyBlock(pem, ['PRIVATE KEY', 'EC PRIVATE KEY', 'SM2 PRIVATE KEY'], 'a private key');
  if (block.label !== 'PRIVATE KEY') return readEcPrivateKey(block.der, undefined);
  const info = sequence(decodeDer(block.der, 'PKCS#8 private key'), 'PKCS#8 PrivateKeyInfo');
  const [version, algorithm, privateKey] = info;
  if (!(version instanceof asn1js.Integer) || !(algorithm instanceof asn1js.Sequence)) {
    throw new EncodingError('PKCS#8 PrivateKeyInfo: expected version and algorithm');
  }
  const curveFromAlgorithm = assertSm2Algorithm(algorithm, 'private key');
  if (!(privateKey instanceof asn1js.OctetString)) throw new EncodingError('PKCS#8 privateKey is not an OCTET STRING');
  return readEcPrivateKey(privateKey.valueBlock.valueHexView, curveFromAlgorithm);
}

/** PKCS#8 exactly as OpenSSL 3 writes SM2 keys (id-ecPublicKey + SM2 curve, public key included). */
export function writePrivateKeyPem(pair: Sm2KeyPair): string {
  const ecPrivateKey = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 1 }),
      new asn1js.OctetString({ valueHex: bufferOf(pair.privateKey) }),
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 1 },
        value: [new asn1js.BitString({ valueHex: bufferOf(pair.publicKey) })],
      }),
    ],
  });
  const info = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 0 }),
      sm2AlgorithmIdentifier(),
      new asn1js.OctetString({ valueHex: ecPrivateKey.toBER() }),
    ],
  });
  return toPem('PRIVATE KEY', new Uint8Array(info.toBER()));
}

/** SPKI ("PUBLIC KEY") SM2 public key: 65 bytes 04 || x || y, checked to be on the curve. */
export function readPublicKeyPem(pem: string): Uint8Array {
  return publicKeyFromSpki(onlyBlock(pem, ['PUBLIC KEY'], 'a public key').der);
}

export function writePublicKeyPem(publicKey: Uint8Array): string {
  assertPublicKey(publicKey);
  return toPem('PUBLIC KEY', spkiOf(publicKey));
}

/** SubjectPublicKeyInfo DER to the 65-byte key; also used for certificates. */
export function publicKeyFromSpki(der: Uint8Array): Uint8Array {
  const [algorithm, key] = sequence(decodeDer(der, 'SubjectPublicKeyInfo'), 'SubjectPublicKeyInfo');
  if (!(algorithm instanceof asn1js.Sequence) || !(key instanceof asn1js.BitString)) {
    throw new EncodingError('SubjectPublicKeyInfo: expected algorithm and BIT STRING');
  }
  assertSm2Algorithm(algorithm, 'public key');
  if (key.valueBlock.unusedBits !== 0) throw new EncodingError('public key BIT STRING has unused bits');
  const publicKey = new Uint8Array(key.valueBlock.valueHexView);
  assertPublicKey(publicKey);
  return publicKey;
}

export function spkiOf(publicKey: Uint8Array): Uint8Array {
  const spki = new asn1js.Sequence({
    value: [sm2AlgorithmIdentifier(), new asn1js.BitString({ valueHex: bufferOf(publicKey) })],
  });
  return new Uint8Array(spki.toBER());
}

/**
 * Throws EncodingError naming the key type or curve unless `algorithm` is id-ecPublicKey
 * with the SM2 named curve, or the SM2 OID itself (absent, NULL or SM2 curve parameters).
 * Returns the curve OID given, if any.
 */
export function assertSm2Algorithm(algorithm: asn1js.Sequence, what: string): string | undefined {
  const [oid, parameters] = algorithm.valueBlock.value;
  if (!(oid instanceof asn1js.ObjectIdentifier)) throw new EncodingError(`${what}: algorithm is not an OBJECT IDENTIFIER`);
  const algorithmOid = oid.getValue();
  const curveOid = parameters instanceof asn1js.ObjectIdentifier ? parameters.getValue() : undefined;
  if (algorithmOid === oidSm2 && (parameters === undefined || parameters instanceof asn1js.Null)) return undefined;
  if (algorithmOid !== oidSm2 && algorithmOid !== oidEcPublicKey) {
    const name = keyAlgorithmNames[algorithmOid] ?? 'an unknown algorithm';
    throw new EncodingError(`${what} is ${name} (OID ${algorithmOid}), not SM2`);
  }
  if (curveOid === undefined) {
    throw new EncodingError(`${what}: EC key without a named curve (explicit parameters are not supported)`);
  }
  assertSm2Curve(curveOid, what);
  return curveOid;
}

function assertSm2Curve(curveOid: string, what: string): void {
  if (curveOid === oidSm2) return;
  const name = curveNames[curveOid] ?? 'an unknown curve';
  throw new EncodingError(`${what} is an EC key on ${name} (OID ${curveOid}), not the SM2 curve (${oidSm2})`);
}

/** RFC 5915 ECPrivateKey; `curveOid` is what the enclosing PKCS#8 said, if anything. */
function readEcPrivateKey(der: Uint8Array, curveOid: string | undefined): Sm2KeyPair {
  const [version, privateKey, ...tagged] = sequence(decodeDer(der, 'ECPrivateKey'), 'ECPrivateKey');
  if (!(version instanceof asn1js.Integer) || version.valueBlock.valueDec !== 1) {
    throw new EncodingError('ECPrivateKey: version is not 1');
  }
  if (!(privateKey instanceof asn1js.OctetString)) throw new EncodingError('ECPrivateKey: privateKey is not an OCTET STRING');
  let embeddedPublicKey: Uint8Array | undefined;
  for (const field of tagged) {
    const inner = field instanceof asn1js.Constructed ? field.valueBlock.value[0] : undefined;
    if (field.idBlock.tagClass === 3 && field.idBlock.tagNumber === 0 && inner instanceof asn1js.ObjectIdentifier) {
      assertSm2Curve(inner.getValue(), 'private key');
      curveOid ??= inner.getValue();
    } else if (field.idBlock.tagClass === 3 && field.idBlock.tagNumber === 1 && inner instanceof asn1js.BitString) {
      embeddedPublicKey = new Uint8Array(inner.valueBlock.valueHexView);
    } else {
      throw new EncodingError('ECPrivateKey: unexpected field (explicit curve parameters are not supported)');
    }
  }
  if (curveOid === undefined) throw new EncodingError('private key does not name its curve');
  assertSm2Curve(curveOid, 'private key');
  const pair = keyPairFromPrivateKey(fixedLength(privateKey.valueBlock.valueHexView));
  if (embeddedPublicKey && !Buffer.from(embeddedPublicKey).equals(pair.publicKey)) {
    throw new EncodingError('the public key stored with the private key does not match it');
  }
  return pair;
}

/** Some encoders drop leading zero bytes of d; RFC 5915 wants exactly 32. */
function fixedLength(d: Uint8Array): Uint8Array {
  if (d.length > 32) throw new EncodingError(`private key is ${d.length} bytes, expected 32`);
  const padded = new Uint8Array(32);
  padded.set(d, 32 - d.length);
  return padded;
}

function onlyBlock(pem: string, labels: string[], expected: string): PemBlock {
  const blocks = pemBlocks(pem);
  const found = blocks.find((block) => labels.includes(block.label));
  if (found) return found;
  if (blocks.length === 0) throw new EncodingError(`no PEM block found; expected ${expected}`);
  const seen = blocks.map((block) => block.label).join(', ');
  const hint = seen.includes('ENCRYPTED')
    ? ' (encrypted keys are not supported; decrypt with `openssl pkey`)'
    : seen.includes('RSA')
      ? ' (an RSA key, not SM2)'
      : '';
  throw new EncodingError(`expected ${expected} (${labels.join(' or ')}), found ${seen}${hint}`);
}

function decodeDer(der: Uint8Array, what: string): asn1js.AsnType {
  const { offset, result } = asn1js.fromBER(der);
  if (offset === -1 || result.error) throw new EncodingError(`${what} is not valid DER: ${result.error || 'decode failed'}`);
  if (offset !== der.length) throw new EncodingError(`${what} has ${der.length - offset} trailing byte(s)`);
  return result;
}

function sequence(node: asn1js.AsnType, what: string): asn1js.AsnType[] {
  if (!(node instanceof asn1js.Sequence)) throw new EncodingError(`${what} is not a SEQUENCE`);
  return node.valueBlock.value;
}

function sm2AlgorithmIdentifier(): asn1js.Sequence {
  return new asn1js.Sequence({
    value: [new asn1js.ObjectIdentifier({ value: oidEcPublicKey }), new asn1js.ObjectIdentifier({ value: oidSm2 })],
  });
}

/** asn1js wants an ArrayBuffer of exactly the bytes. */
function bufferOf(bytes: Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer;
}
