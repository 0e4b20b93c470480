import { createRequire } from 'node:module';
import { sm2 as smCryptoV2 } from 'sm-crypto-v2';
import { describe, expect, it } from 'vitest';
import { EncodingError } from '../errors.js';
import {
  computeE,
  computeZ,
  curveOrder,
  generateKeyPair,
  keyPairFromPrivateKey,
  nodeIdOf,
  sign,
  signatureFromDer,
  signatureToDer,
  verify,
} from './sm2.js';
import { sm3Hex } from './sm3.js';

// sm-crypto 0.5.8 is an independent JS implementation (jsbn, its own SM3); no types ship.
interface LegacySm2 {
  doSignature(msg: string | number[], privateKey: string, options: object): string;
  doVerifySignature(msg: string | number[], signature: string, publicKey: string, options: object): boolean;
}
const legacy = (createRequire(import.meta.url)('sm-crypto') as { sm2: LegacySm2 }).sm2;

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const fromHex = (text: string) => Buffer.from(text, 'hex');

// GM/T 0003.5-2012 appendix A.2 on the recommended curve (docs/DOMAIN.md, "SM2 signatures").
const vector = {
  d: '3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8',
  xA: '09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020',
  yA: 'CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13',
  message: Buffer.from('message digest'),
  k: '59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21',
  z: 'B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3',
  e: 'F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640',
  r: 'F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3',
  s: 'B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA',
};

describe('GM/T 0003.5 A.2 vector', () => {
  const pair = keyPairFromPrivateKey(fromHex(vector.d));

  it('derives the public key from d', () => {
    expect(hex(pair.publicKey)).toBe(('04' + vector.xA + vector.yA).toLowerCase());
  });

  it('computes Z over the default ID and e = SM3(Z || M)', () => {
    expect(hex(computeZ(pair.publicKey))).toBe(vector.z.toLowerCase());
    expect(hex(computeE(pair.publicKey, vector.message))).toBe(vector.e.toLowerCase());
  });

  it('produces the vector (r, s) with the fixed k', () => {
    // Our e, the library's arithmetic with k forced through its point pool: the same
    // call sign() makes, minus the random k.
    const x1 = smCryptoV2.getPublicKeyFromPrivateKey(vector.k).slice(2, 66);
    const rawHex = smCryptoV2.doSignature(computeE(pair.publicKey, vector.message), vector.d, {
      hash: false,
      der: false,
      pointPool: [{ k: BigInt('0x' + vector.k), x1: BigInt('0x' + x1) }],
    });
    expect(rawHex).toBe((vector.r + vector.s).toLowerCase());
  });

  it('verifies the vector signature raw and as DER', () => {
    const raw = fromHex(vector.r + vector.s);
    expect(verify(pair.publicKey, vector.message, raw)).toBe(true);
    expect(verify(pair.publicKey, vector.message, signatureToDer(raw))).toBe(true);
    expect(verify(pair.publicKey, Buffer.from('message digesT'), raw)).toBe(false);
  });
});

describe('sign and verify', () => {
  const pair = generateKeyPair();
  const message = Buffer.from('head 42 of city-a');

  it('round trips, with and without the public key passed to sign', () => {
    expect(verify(pair.publicKey, message, sign(pair.privateKey, message))).toBe(true);
    expect(verify(pair.publicKey, message, sign(pair.privateKey, message, pair.publicKey))).toBe(true);
    expect(verify(pair.publicKey, new Uint8Array(0), sign(pair.privateKey, new Uint8Array(0)))).toBe(true);
  });

  it('writes DER and accepts both DER and raw r || s', () => {
    const der = sign(pair.privateKey, message, pair.publicKey);
    expect(der[0]).toBe(0x30);
    expect(der.length).toBeGreaterThanOrEqual(8);
    expect(der.length).toBeLessThanOrEqual(72);
    const raw = signatureFromDer(der);
    expect(raw).toHaveLength(64);
    expect(signatureToDer(raw)).toEqual(der);
    expect(verify(pair.publicKey, message, raw)).toBe(true);
  });

  it('returns false for a tampered message, signature, other key or other ID', () => {
    const signature = sign(pair.privateKey, message, pair.publicKey);
    expect(verify(pair.publicKey, Buffer.from('head 43 of city-a'), signature)).toBe(false);
    const raw = signatureFromDer(signature);
    raw[63] = raw[63]! ^ 1;
    expect(verify(pair.publicKey, message, raw)).toBe(false);
    expect(verify(generateKeyPair().publicKey, message, signature)).toBe(false);
    expect(verify(pair.publicKey, message, signature, 'another-id')).toBe(false);
  });

  it('signs and verifies under a non-default distinguishing ID', () => {
    const signature = sign(pair.privateKey, message, pair.publicKey, 'city-a@alliance');
    expect(verify(pair.publicKey, message, signature, 'city-a@alliance')).toBe(true);
    expect(verify(pair.publicKey, message, signature, Buffer.from('city-a@alliance'))).toBe(true);
    expect(verify(pair.publicKey, message, signature)).toBe(false);
  });

  it('returns false for raw r or s of zero or >= n', () => {
    const raw = signatureFromDer(sign(pair.privateKey, message, pair.publicKey));
    const zeroR = Buffer.concat([Buffer.alloc(32), raw.subarray(32)]);
    const bigS = Buffer.concat([raw.subarray(0, 32), fromHex(curveOrder.toString(16))]);
    expect(verify(pair.publicKey, message, zeroR)).toBe(false);
    expect(verify(pair.publicKey, message, bigS)).toBe(false);
  });

  it('names a node by the SM3 of its uncompressed public key', () => {
    expect(nodeIdOf(pair.publicKey)).toBe(sm3Hex(pair.publicKey));
    expect(nodeIdOf(pair.publicKey)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('malformed input throws EncodingError', () => {
  const pair = generateKeyPair();
  const message = Buffer.from('m');
  const der = sign(pair.privateKey, message, pair.publicKey);
  const integer = (content: number[]) => [0x02, content.length, ...content];
  const sequence = (...items: number[][]) => Buffer.from([0x30, items.flat().length, ...items.flat()]);

  const badSignatures: [string, Uint8Array, RegExp][] = [
    ['truncated DER', der.subarray(0, der.length - 1), /truncated/],
    ['trailing bytes after DER', Buffer.concat([der, Buffer.from([0])]), /trailing/],
    ['63 bytes', Buffer.alloc(63, 1), /63/],
    ['65 bytes', Buffer.alloc(65, 1), /65/],
    ['empty', new Uint8Array(0), /empty/],
    ['negative r', sequence(integer([0x80, 1]), integer([1])), /r is negative/],
    ['non-minimal s', sequence(integer([1]), integer([0, 1])), /s has a non-minimal/],
    ['r of zero', sequence(integer([0]), integer([1])), /r is outside/],
    ['s of n', sequence(integer([1]), integer([0, ...fromHex(curveOrder.toString(16))])), /s is outside/],
    ['a third INTEGER', sequence(integer([1]), integer([1]), integer([1])), /after s/],
    ['long-form length', Buffer.from([0x30, 0x81, 6, ...integer([1]), ...integer([1])]), /long-form/],
  ];
  it.each(badSignatures)('signature: %s', (_name, signature, reason) => {
    expect(() => verify(pair.publicKey, message, signature)).toThrow(EncodingError);
    expect(() => verify(pair.publicKey, message, signature)).toThrow(reason);
  });

  it('strict DER also in signatureFromDer, length in signatureToDer', () => {
    expect(() => signatureFromDer(Buffer.concat([der, Buffer.from([0])]))).toThrow(EncodingError);
    expect(() => signatureToDer(Buffer.alloc(63))).toThrow(EncodingError);
  });

  const offCurve = Buffer.from(pair.publicKey);
  offCurve[64] = offCurve[64]! ^ 1;
  const xTooLarge = Buffer.concat([Buffer.from([4]), Buffer.alloc(32, 0xff), Buffer.alloc(32, 0)]);
  const badKeys: [string, Uint8Array, RegExp][] = [
    ['64 bytes', pair.publicKey.subarray(1), /65 bytes/],
    ['compressed', Buffer.concat([Buffer.from([2]), pair.publicKey.subarray(1, 33)]), /compressed/],
    ['wrong prefix', Buffer.concat([Buffer.from([6]), pair.publicKey.subarray(1)]), /65 bytes/],
    ['off the curve', offCurve, /not a point/],
    ['x >= p', xTooLarge, /not a point/],
  ];
  it.each(badKeys)('public key: %s', (_name, publicKey, reason) => {
    expect(() => verify(publicKey, message, der)).toThrow(EncodingError);
    expect(() => verify(publicKey, message, der)).toThrow(reason);
    expect(() => nodeIdOf(publicKey)).toThrow(EncodingError);
  });

  it('private key: wrong length or out of range', () => {
    expect(() => keyPairFromPrivateKey(new Uint8Array(31))).toThrow(/32 bytes/);
    expect(() => keyPairFromPrivateKey(new Uint8Array(32))).toThrow(/outside/);
    expect(() => sign(fromHex((curveOrder - 1n).toString(16)), message)).toThrow(EncodingError);
  });
});

// sm-crypto is slow (~25 verifies/s): a few rounds each way.
describe('interoperates with sm-crypto 0.5.8', () => {
  const message = Buffer.from('一处失信、处处受限');
  const options = { hash: true, der: true, userId: '1234567812345678' };

  it('sm-crypto verifies ours', () => {
    for (let round = 0; round < 3; round++) {
      const pair = generateKeyPair();
      const signature = hex(sign(pair.privateKey, message, pair.publicKey));
      expect(legacy.doVerifySignature([...message], signature, hex(pair.publicKey), options)).toBe(true);
      expect(legacy.doVerifySignature([...message, 0], signature, hex(pair.publicKey), options)).toBe(false);
    }
  });

  it('we verify sm-crypto DER and raw signatures', () => {
    for (let round = 0; round < 3; round++) {
      const pair = generateKeyPair();
      const args = [hex(pair.privateKey), { ...options, publicKey: hex(pair.publicKey) }] as const;
      const der = fromHex(legacy.doSignature([...message], args[0], args[1]));
      const raw = fromHex(legacy.doSignature([...message], args[0], { ...args[1], der: false }));
      expect(verify(pair.publicKey, message, der)).toBe(true);
      expect(verify(pair.publicKey, message, raw)).toBe(true);
    }
  });
});
