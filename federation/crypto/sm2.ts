// SM2 signatures per GB/T 32918.2: e = SM3(Z || M), Z over the signer's distinguishing ID.
//
// sm-crypto-v2 does the curve arithmetic only (called with hash: false on our e). We compute
// Z and e ourselves with native SM3 so that (a) the GM/T 0003.5 vector checks exactly the
// bytes we sign, (b) IDs may be arbitrary bytes, not just UTF-8 strings, and (c) the hot
// path skips the library's JS SM3 and its re-parse of the public key on every verify.
// We also own the DER codec, because the library's decoder accepts malformed input.
import { randomBytes } from 'node:crypto';
import { sm2 as smCrypto } from 'sm-crypto-v2';
import { EncodingError } from '../errors.js';
import { sm3 } from './sm3.js';
import { precomputedKeysMax } from '../limits.js';

/** GM/T 0009 default distinguishing ID, used by OpenSSL `distid:`, GmSSL and USB keys. */
export const defaultDistinguishingId = '1234567812345678';

// Window 4 costs ~8 ms and ~71 KB per key and verifies ~900/s; window 8 gives ~1150/s
// but costs ~60 ms and ~640 KB per key, too much for keys seen only a few times.
const precomputeWindowBits = 4;

/** ENTL is two bytes of bit length, so an ID may be at most 8191 bytes. */
const distinguishingIdBytesMax = 8191;

// GB/T 32918.5 recommended curve.
const curveA = 'fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc';
const curveB = '28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93';
const curveGx = '32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7';
const curveGy = 'bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0';
/** Order of the base point. */
export const curveOrder = BigInt('0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123');
const curveParametersForZ = Buffer.from(curveA + curveB + curveGx + curveGy, 'hex');

export interface Sm2KeyPair {
  /** 32 bytes, big-endian d in [1, n-2]. */
  privateKey: Uint8Array;
  /** 65 bytes, uncompressed 04 || x || y. */
  publicKey: Uint8Array;
}

export type DistinguishingId = string | Uint8Array;

type PrecomputedPoint = ReturnType<typeof smCrypto.precomputePublicKey>;
const precomputedKeys = new Map<string, PrecomputedPoint>();

/**
 * Where a signature's nonce k comes from. The replica passes its Random, so a
 * simulated run signs reproducibly from its seed; without one, k comes from
 * inside sm-crypto-v2 (crypto.getRandomValues).
 */
export interface NonceSource {
  /** `length` uniformly random bytes. */
  bytes(length: number): Uint8Array;
}

/** k in [1, n-1] from 64 random bytes: reduced modulo n-1, the bias is below 2^-256 (FIPS 186-5 A.2.1). */
function nonceFrom(source: NonceSource): { k: bigint; x1: bigint } {
  const k = (bytesToBigInt(source.bytes(64)) % (curveOrder - 1n)) + 1n;
  const kG = smCrypto.getPublicKeyFromPrivateKey(k.toString(16).padStart(64, '0'));
  return { k, x1: BigInt(`0x${kG.slice(2, 66)}`) };
}

/** Randomness is this module's only IO: d here from node:crypto, k as NonceSource says. */
export function generateKeyPair(): Sm2KeyPair {
  for (;;) {
    const candidate = randomBytes(32);
    const d = bytesToBigInt(candidate);
    if (d >= 1n && d <= curveOrder - 2n) return keyPairFromPrivateKey(candidate);
  }
}

/** Throws EncodingError unless d is 32 bytes in [1, n-2] (GB/T 32918.1 6.1). */
export function keyPairFromPrivateKey(privateKey: Uint8Array): Sm2KeyPair {
  const dHex = privateKeyHex(privateKey);
  const publicKey = Buffer.from(smCrypto.getPublicKeyFromPrivateKey(dHex), 'hex');
  return { privateKey: new Uint8Array(privateKey), publicKey: new Uint8Array(publicKey) };
}

/** Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA). */
export function computeZ(publicKey: Uint8Array, id: DistinguishingId = defaultDistinguishingId): Buffer {
  publicKeyHexOfShape(publicKey);
  const idBytes = typeof id === 'string' ? Buffer.from(id, 'utf8') : id;
  if (idBytes.length > distinguishingIdBytesMax) {
    throw new EncodingError(`distinguishing ID is ${idBytes.length} bytes, at most ${distinguishingIdBytesMax}`);
  }
  const entl = Buffer.alloc(2);
  entl.writeUInt16BE(idBytes.length * 8);
  return sm3(Buffer.concat([entl, idBytes, curveParametersForZ, publicKey.subarray(1)]));
}

/** e = SM3(Z || M), the value actually signed. */
export function computeE(publicKey: Uint8Array, message: Uint8Array, id?: DistinguishingId): Buffer {
  return sm3(Buffer.concat([computeZ(publicKey, id), message]));
}

/**
 * DER signature over `message`. Pass `publicKey` to skip deriving it (~0.5 ms); it must be
 * the private key's own public key, or the signature will never verify.
 */
export function sign(
  privateKey: Uint8Array,
  message: Uint8Array,
  publicKey?: Uint8Array,
  id?: DistinguishingId,
  nonces?: NonceSource,
): Buffer {
  const dHex = privateKeyHex(privateKey);
  const signerKey = publicKey ?? keyPairFromPrivateKey(privateKey).publicKey;
  const e = computeE(signerKey, message, id);
  // The pool hands the library our k; in the rare case (about 2^-255) that k gives r = 0 or s = 0 it draws its own.
  const pointPool = nonces ? [nonceFrom(nonces)] : undefined;
  const rawHex = smCrypto.doSignature(e, dHex, { hash: false, der: false, ...(pointPool ? { pointPool: pointPool as never } : {}) });
  return signatureToDer(Buffer.from(rawHex, 'hex'));
}

/**
 * True if `signature` (DER, or raw 64-byte r || s) verifies. False for a well-formed
 * signature that does not. Throws EncodingError for a malformed signature or a public key
 * that is not a 65-byte uncompressed point on the curve.
 */
export function verify(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  id?: DistinguishingId,
): boolean {
  const candidates = decodeSignature(signature);
  const point = precomputedPoint(publicKey);
  const e = computeE(publicKey, message, id);
  return candidates.some(({ r, s }) => verifyDigest(point, e, r, s));
}

/** Lowercase hex SM3 of the 65-byte uncompressed public key. */
export function nodeIdOf(publicKey: Uint8Array): string {
  assertPublicKey(publicKey);
  return sm3(publicKey).toString('hex');
}

/** Throws EncodingError unless `publicKey` is a 65-byte uncompressed point on the SM2 curve. */
export function assertPublicKey(publicKey: Uint8Array): void {
  const keyHex = publicKeyHexOfShape(publicKey);
  if (precomputedKeys.has(keyHex)) return;
  let valid: boolean;
  try {
    valid = smCrypto.verifyPublicKey(keyHex);
  } catch {
    valid = false;
  }
  if (!valid) throw new EncodingError('public key is not a point on the SM2 curve');
}

/** Raw r || s (32 bytes each) to DER SEQUENCE { r INTEGER, s INTEGER }. */
export function signatureToDer(raw: Uint8Array): Buffer {
  if (raw.length !== 64) throw new EncodingError(`raw signature must be 64 bytes (r || s), got ${raw.length}`);
  const r = integerContent(raw.subarray(0, 32));
  const s = integerContent(raw.subarray(32));
  const content = Buffer.concat([Buffer.from([0x02, r.length]), r, Buffer.from([0x02, s.length]), s]);
  return Buffer.concat([Buffer.from([0x30, content.length]), content]);
}

/** Strict DER to raw r || s; throws EncodingError (see decodeDerSignature). */
export function signatureFromDer(der: Uint8Array): Buffer {
  const { r, s } = decodeDerSignature(der);
  return Buffer.from(r.toString(16).padStart(64, '0') + s.toString(16).padStart(64, '0'), 'hex');
}

/** GB/T 32918.2 6.2 B1-B7 on a precomputed e; r and s outside [1, n-1] do not verify. */
function verifyDigest(point: PrecomputedPoint, e: Uint8Array, r: bigint, s: bigint): boolean {
  if (r < 1n || r >= curveOrder || s < 1n || s >= curveOrder) return false;
  const rawHex = r.toString(16).padStart(64, '0') + s.toString(16).padStart(64, '0');
  return smCrypto.doVerifySignature(e, rawHex, point, { hash: false, der: false });
}

/** The (r, s) readings of a signature: DER, raw, or (for a 64-byte valid DER) both. */
function decodeSignature(signature: Uint8Array): { r: bigint; s: bigint }[] {
  let derError: string;
  try {
    const der = decodeDerSignature(signature);
    // A raw r || s could in principle also parse as DER; try both readings then.
    return signature.length === 64 ? [der, decodeRawSignature(signature)] : [der];
  } catch (error) {
    if (!(error instanceof EncodingError)) throw error;
    derError = error.message;
  }
  if (signature.length === 64) return [decodeRawSignature(signature)];
  throw new EncodingError(`${derError}; and not raw r || s (64 bytes, got ${signature.length})`);
}

function decodeRawSignature(raw: Uint8Array): { r: bigint; s: bigint } {
  return { r: bytesToBigInt(raw.subarray(0, 32)), s: bytesToBigInt(raw.subarray(32)) };
}

/**
 * SEQUENCE { r INTEGER, s INTEGER } in strict DER: short-form lengths (the longest valid
 * signature is 72 bytes), minimal non-negative INTEGERs, r and s in [1, n-1], no trailing
 * bytes inside or after the SEQUENCE.
 */
function decodeDerSignature(der: Uint8Array): { r: bigint; s: bigint } {
  const fail = (why: string) => new EncodingError(`signature is not valid DER: ${why}`);
  if (der.length === 0) throw fail('empty');
  if (der[0] !== 0x30) throw fail('does not start with a SEQUENCE');
  const length = der[1];
  if (length === undefined) throw fail('truncated');
  if (length >= 0x80) throw fail('long-form or indefinite length');
  if (der.length < 2 + length) throw fail(`truncated: SEQUENCE needs ${length} bytes, has ${der.length - 2}`);
  if (der.length > 2 + length) throw fail(`${der.length - 2 - length} trailing byte(s)`);
  let offset = 2;
  const readInteger = (name: string): bigint => {
    if (der[offset] !== 0x02) throw fail(`${name} is not an INTEGER`);
    const size = der[offset + 1];
    if (size === undefined || size === 0 || size >= 0x80) throw fail(`${name} has a bad length`);
    const start = offset + 2;
    if (start + size > der.length) throw fail(`${name} is truncated`);
    const content = der.subarray(start, start + size);
    if ((content[0]! & 0x80) !== 0) throw fail(`${name} is negative`);
    if (content[0] === 0 && size > 1 && (content[1]! & 0x80) === 0) throw fail(`${name} has a non-minimal encoding`);
    const value = bytesToBigInt(content);
    if (value < 1n || value >= curveOrder) throw fail(`${name} is outside [1, n-1]`);
    offset = start + size;
    return value;
  };
  const r = readInteger('r');
  const s = readInteger('s');
  if (offset !== der.length) throw fail(`${der.length - offset} byte(s) after s inside the SEQUENCE`);
  return { r, s };
}

/** Minimal DER INTEGER content of an unsigned big-endian number. */
function integerContent(unsigned: Uint8Array): Buffer {
  let start = 0;
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++;
  const magnitude = Buffer.from(unsigned.subarray(start));
  return (magnitude[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), magnitude]) : magnitude;
}

function precomputedPoint(publicKey: Uint8Array): PrecomputedPoint {
  const keyHex = publicKeyHexOfShape(publicKey);
  const cached = precomputedKeys.get(keyHex);
  if (cached !== undefined) {
    // Re-insert so that Map order is least recently used first.
    precomputedKeys.delete(keyHex);
    precomputedKeys.set(keyHex, cached);
    return cached;
  }
  let point: PrecomputedPoint;
  try {
    point = smCrypto.precomputePublicKey(keyHex, precomputeWindowBits); // validates the point
  } catch {
    throw new EncodingError('public key is not a point on the SM2 curve');
  }
  if (precomputedKeys.size >= precomputedKeysMax) {
    const oldest = precomputedKeys.keys().next().value;
    if (oldest !== undefined) precomputedKeys.delete(oldest);
  }
  precomputedKeys.set(keyHex, point);
  return point;
}

function publicKeyHexOfShape(publicKey: Uint8Array): string {
  if (publicKey.length !== 65 || publicKey[0] !== 0x04) {
    const form = publicKey.length === 33 ? ' (compressed points are not accepted)' : '';
    throw new EncodingError(`public key must be 65 bytes 04 || x || y, got ${publicKey.length} bytes${form}`);
  }
  return Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString('hex');
}

function privateKeyHex(privateKey: Uint8Array): string {
  if (privateKey.length !== 32) throw new EncodingError(`private key must be 32 bytes, got ${privateKey.length}`);
  const d = bytesToBigInt(privateKey);
  if (d < 1n || d > curveOrder - 2n) throw new EncodingError('private key is outside [1, n-2]');
  return Buffer.from(privateKey.buffer, privateKey.byteOffset, privateKey.length).toString('hex');
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  return BigInt('0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex'));
}
