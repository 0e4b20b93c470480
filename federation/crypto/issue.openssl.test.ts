import { writeFileSync } from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { generateKeyPair } from './sm2.js';
import { issueCertificate } from './issue.js';
import { makeTempDir, openssl, opensslVerifiesLink } from './testing/openssl.js';
import { parseCertificate, verifyChain } from './x509.js';

// Certificates made in-process must be certificates OpenSSL accepts, and our chain check too.

const day = 86_400_000;
const now = Date.now();

function pki() {
  const caKey = generateKeyPair();
  const ca = { commonName: 'Western Cities Demo CA' };
  const root = issueCertificate({ subject: ca, publicKey: caKey.publicKey, issuer: { name: ca, keyPair: caKey }, serialNumber: 1n, notBefore: new Date(now - day), notAfter: new Date(now + 3650 * day), ca: true });
  const userKey = generateKeyPair();
  const leaf = issueCertificate({ subject: { commonName: 'Dianchi Road & Bridge 91530100MA6K000000' }, publicKey: userKey.publicKey, issuer: { name: ca, keyPair: caKey }, serialNumber: 0x9a_0001n, notBefore: new Date(now - day), notAfter: new Date(now + 365 * day) });
  return { root, leaf, userKey };
}

const pem = (der: Uint8Array) => `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;

describe('issueCertificate', () => {
  it('makes an SM2 root and leaf that openssl verify accepts', () => {
    const { root, leaf } = pki();
    const dir = makeTempDir();
    onTestFinished(() => dir.remove());
    writeFileSync(dir.file('root.pem'), pem(root));
    writeFileSync(dir.file('leaf.pem'), pem(leaf));
    // OpenSSL 3.0 needs the SM2 default ID passed in to verify (see opensslVerifiesLink).
    expect(opensslVerifiesLink(dir.file('root.pem'), dir.file('leaf.pem'))).toBe(true);
    // The same names, signed by another key: OpenSSL refuses the link.
    const impostor = generateKeyPair();
    const forged = issueCertificate({ subject: { commonName: 'x' }, publicKey: impostor.publicKey, issuer: { name: { commonName: 'Western Cities Demo CA' }, keyPair: impostor }, serialNumber: 2n, notBefore: new Date(now - day), notAfter: new Date(now + day) });
    writeFileSync(dir.file('forged.pem'), pem(forged));
    expect(opensslVerifiesLink(dir.file('root.pem'), dir.file('forged.pem'))).toBe(false);
    expect(openssl(['x509', '-in', dir.file('leaf.pem'), '-noout', '-text']).toString()).toMatch(/SM2-with-SM3[\s\S]*Digital Signature/);
  });

  it('chains to its root under our own verification, and carries the subject key', () => {
    const { root, leaf, userKey } = pki();
    const verified = verifyChain(parseCertificate(leaf), [], [parseCertificate(root)], new Date());
    expect(verified.chain).toHaveLength(2);
    expect(Buffer.from(parseCertificate(leaf).publicKey).equals(userKey.publicKey)).toBe(true);
  });
});
