// Interop with the OpenSSL 3 CLI, an independent SM2 implementation (needs `openssl`).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPrivateKeyPem, readPublicKeyPem, writePrivateKeyPem, writePublicKeyPem } from './pem.js';
import { generateKeyPair, sign, signatureFromDer, verify, type Sm2KeyPair } from './sm2.js';
import {
  makeTempDir,
  openssl,
  opensslGenerateKey,
  opensslPublicKey,
  opensslSign,
  opensslVerify,
  type TempDir,
} from './testing/openssl.js';

let dir: TempDir;
beforeAll(() => {
  dir = makeTempDir();
});
afterAll(() => dir.remove());

const messages = [Buffer.from('abc'), Buffer.from('签名头 seq=7'), Buffer.alloc(10_000, 0x5a)];

describe('keys made by openssl genpkey -algorithm SM2', () => {
  let pair: Sm2KeyPair;
  let keyFile: string;
  let publicKeyFile: string;
  beforeAll(() => {
    keyFile = opensslGenerateKey(dir.file('openssl.key'));
    publicKeyFile = opensslPublicKey(keyFile, dir.file('openssl.pub'));
    pair = readPrivateKeyPem(readFileSync(keyFile, 'utf8'));
  });

  it('read as PKCS#8 and SPKI, with the same public key', () => {
    expect(pair.privateKey).toHaveLength(32);
    expect(readPublicKeyPem(readFileSync(publicKeyFile, 'utf8'))).toEqual(pair.publicKey);
  });

  it('write back byte for byte as OpenSSL wrote them', () => {
    expect(writePrivateKeyPem(pair)).toBe(readFileSync(keyFile, 'utf8'));
    expect(writePublicKeyPem(pair.publicKey)).toBe(readFileSync(publicKeyFile, 'utf8'));
  });

  it('read in the SEC1 form `openssl ec` writes (SM2 PRIVATE KEY)', () => {
    const sec1 = openssl(['ec', '-in', keyFile]).toString();
    expect(sec1).toMatch(/BEGIN SM2 PRIVATE KEY/);
    expect(readPrivateKeyPem(sec1)).toEqual(pair);
  });

  it('our signatures verify with openssl pkeyutl -verify', () => {
    messages.forEach((message, i) => {
      const data = dir.write(`ours-${i}.bin`, message);
      const signature = dir.write(`ours-${i}.sig`, sign(pair.privateKey, message, pair.publicKey));
      expect(opensslVerify(publicKeyFile, data, signature)).toBe(true);
    });
  });

  it('openssl pkeyutl -verify rejects our signature over other data', () => {
    const signature = dir.write('other.sig', sign(pair.privateKey, Buffer.from('abc'), pair.publicKey));
    expect(opensslVerify(publicKeyFile, dir.write('other.bin', 'abd'), signature)).toBe(false);
  });

  it('openssl signatures verify with ours, DER and raw; tampered data does not', () => {
    messages.forEach((message, i) => {
      const signature = opensslSign(keyFile, dir.write(`theirs-${i}.bin`, message));
      expect(verify(pair.publicKey, message, signature)).toBe(true);
      expect(verify(pair.publicKey, message, signatureFromDer(signature))).toBe(true);
      expect(verify(pair.publicKey, Buffer.concat([message, Buffer.from([0])]), signature)).toBe(false);
    });
  });

  it('agrees with openssl on a non-default distinguishing ID', () => {
    const data = dir.write('id.bin', 'with an ID');
    const signature = openssl([
      'pkeyutl', '-sign', '-rawin', '-digest', 'sm3', '-pkeyopt', 'distid:city-a@alliance', '-inkey', keyFile, '-in', data,
    ]);
    expect(verify(pair.publicKey, Buffer.from('with an ID'), signature, 'city-a@alliance')).toBe(true);
    expect(verify(pair.publicKey, Buffer.from('with an ID'), signature)).toBe(false);
  });
});

describe('keys we write', () => {
  const pair = generateKeyPair();
  let keyFile: string;
  beforeAll(() => {
    keyFile = dir.write('ours.key', writePrivateKeyPem(pair));
  });

  it('pass openssl pkey -check and give the same public key PEM', () => {
    expect(openssl(['pkey', '-in', keyFile, '-check', '-noout']).toString()).toMatch(/valid/);
    expect(openssl(['pkey', '-in', keyFile, '-pubout']).toString()).toBe(writePublicKeyPem(pair.publicKey));
  });

  it('sign in openssl, verifiable by us; our public key PEM verifies in openssl', () => {
    const data = dir.write('ours-key.bin', 'signed by openssl with our key');
    const signature = opensslSign(keyFile, data);
    expect(verify(pair.publicKey, Buffer.from('signed by openssl with our key'), signature)).toBe(true);
    const publicKeyFile = dir.write('ours.pub', writePublicKeyPem(pair.publicKey));
    const ourSignature = dir.write('ours-key.sig', sign(pair.privateKey, readFileSync(data)));
    expect(opensslVerify(publicKeyFile, data, ourSignature)).toBe(true);
  });
});
