import * as asn1js from 'asn1js';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EncodingError } from '../errors.js';
import {
  oidSm2,
  pemBlocks,
  readPrivateKeyPem,
  readPublicKeyPem,
  toPem,
  writePrivateKeyPem,
  writePublicKeyPem,
} from './pem.js';
import { generateKeyPair } from './sm2.js';

// Keys of other types come from Node's OpenSSL; SM2 interop with the openssl CLI is in
// sm2.openssl.test.ts.
const foreign = {
  rsa: generateKeyPairSync('rsa', { modulusLength: 1024 }),
  p256: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }),
  ed25519: generateKeyPairSync('ed25519'),
};

describe('SM2 PEM round trip', () => {
  const pair = generateKeyPair();

  it('reads back what it writes, private and public', () => {
    const privatePem = writePrivateKeyPem(pair);
    expect(privatePem).toMatch(/^-----BEGIN PRIVATE KEY-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END PRIVATE KEY-----\n$/);
    expect(readPrivateKeyPem(privatePem)).toEqual(pair);
    const publicPem = writePublicKeyPem(pair.publicKey);
    expect(publicPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(readPublicKeyPem(publicPem)).toEqual(pair.publicKey);
  });

  it('ignores text around the block and CRLF line ends', () => {
    const pem = `a comment\r\n${writePrivateKeyPem(pair).replace(/\n/g, '\r\n')}trailer`;
    expect(readPrivateKeyPem(pem)).toEqual(pair);
  });

  it('accepts the SM2 OID itself as key algorithm (GM/T 0015-2023)', () => {
    const spki = new asn1js.Sequence({
      value: [
        new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oidSm2 })] }),
        new asn1js.BitString({ valueHex: new Uint8Array(pair.publicKey).buffer }),
      ],
    });
    expect(readPublicKeyPem(toPem('PUBLIC KEY', new Uint8Array(spki.toBER())))).toEqual(pair.publicKey);
  });
});

describe('keys that are not SM2 say what they are', () => {
  const pem = (key: KeyObject, type: 'pkcs8' | 'pkcs1' | 'sec1' | 'spki') => key.export({ type, format: 'pem' }) as string;
  const cases: [string, () => unknown, RegExp][] = [
    ['RSA PKCS#8', () => readPrivateKeyPem(pem(foreign.rsa.privateKey, 'pkcs8')), /RSA/],
    ['RSA PKCS#1', () => readPrivateKeyPem(pem(foreign.rsa.privateKey, 'pkcs1')), /RSA/],
    ['P-256 PKCS#8', () => readPrivateKeyPem(pem(foreign.p256.privateKey, 'pkcs8')), /P-256/],
    ['P-256 SEC1', () => readPrivateKeyPem(pem(foreign.p256.privateKey, 'sec1')), /P-256/],
    ['Ed25519', () => readPrivateKeyPem(pem(foreign.ed25519.privateKey, 'pkcs8')), /Ed25519/],
    ['RSA public', () => readPublicKeyPem(pem(foreign.rsa.publicKey, 'spki')), /RSA/],
    ['P-256 public', () => readPublicKeyPem(pem(foreign.p256.publicKey, 'spki')), /P-256/],
    ['Ed25519 public', () => readPublicKeyPem(pem(foreign.ed25519.publicKey, 'spki')), /Ed25519/],
  ];
  it.each(cases)('%s', (_name, read, reason) => {
    expect(read).toThrow(EncodingError);
    expect(read).toThrow(reason);
  });
});

describe('malformed PEM throws EncodingError', () => {
  const pair = generateKeyPair();
  const privatePem = writePrivateKeyPem(pair);
  const der = pemBlocks(privatePem)[0]!.der;
  const encrypted = foreign.p256.privateKey.export({
    type: 'pkcs8',
    format: 'pem',
    cipher: 'aes-256-cbc',
    passphrase: 'secret',
  }) as string;
  const otherPublicKey = generateKeyPair().publicKey;
  // Same d, someone else's public key in the [1] field: the last 65 bytes of the DER.
  const mismatched = Buffer.concat([der.subarray(0, der.length - 65), otherPublicKey]);

  const offCurveSpki = Buffer.from(pemBlocks(writePublicKeyPem(pair.publicKey))[0]!.der);
  offCurveSpki[offCurveSpki.length - 1] = offCurveSpki[offCurveSpki.length - 1]! ^ 1;

  const cases: [string, () => unknown, RegExp][] = [
    ['no PEM at all', () => readPrivateKeyPem('hello'), /no PEM block/],
    ['bad base64', () => readPrivateKeyPem('-----BEGIN PRIVATE KEY-----\n@@@@\n-----END PRIVATE KEY-----'), /base64/],
    ['mismatched END', () => readPrivateKeyPem(privatePem.replace('END PRIVATE', 'END PUBLIC')), /ends with/],
    ['truncated DER', () => readPrivateKeyPem(toPem('PRIVATE KEY', der.subarray(0, 40))), /not valid DER/],
    ['trailing bytes', () => readPrivateKeyPem(toPem('PRIVATE KEY', Buffer.concat([der, Buffer.from([5, 0])]))), /trailing/],
    ['public key where private expected', () => readPrivateKeyPem(writePublicKeyPem(pair.publicKey)), /found PUBLIC KEY/],
    ['private key where public expected', () => readPublicKeyPem(privatePem), /found PRIVATE KEY/],
    ['encrypted PKCS#8', () => readPrivateKeyPem(encrypted), /encrypted/],
    ['embedded public key of another key', () => readPrivateKeyPem(toPem('PRIVATE KEY', mismatched)), /does not match/],
    ['public key off the curve', () => readPublicKeyPem(toPem('PUBLIC KEY', offCurveSpki)), /not a point on the SM2 curve/],
  ];
  it.each(cases)('%s', (_name, read, reason) => {
    expect(read).toThrow(EncodingError);
    expect(read).toThrow(reason);
  });
});
