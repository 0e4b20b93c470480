// SM2 certificate chains made by the OpenSSL 3 CLI (needs `openssl`).
import * as asn1js from 'asn1js';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateError, EncodingError } from '../errors.js';
import { issueCertificate } from './issue.js';
import { generateKeyPair } from './sm2.js';
import { publicKeyFromSpki } from './pem.js';
import { sm3Hex } from './sm3.js';
import {
  createOpensslPki,
  leafDays,
  makeTempDir,
  openssl,
  opensslVerifiesLink,
  type IssuedCertificate,
  type OpensslPki,
} from './testing/openssl.js';
import { parseCertificate, readCertificates, verifyChain, type ParsedCertificate } from './x509.js';

const dayMs = 24 * 60 * 60 * 1000;
type Fixture = { [K in keyof OpensslPki]: OpensslPki[K] extends IssuedCertificate ? K : never }[keyof OpensslPki];
let pki: OpensslPki;
let now: Date;
const load = (issued: IssuedCertificate): ParsedCertificate => parseCertificate(readFileSync(issued.cert, 'utf8'));

beforeAll(() => {
  pki = createOpensslPki(makeTempDir());
  now = new Date();
});
afterAll(() => pki.dir.remove());

describe('parse', () => {
  it('reads the fields Node X509Certificate reads', () => {
    const leaf = load(pki.leaf);
    const node = new X509Certificate(readFileSync(pki.leaf.cert));
    expect(leaf.subject).toBe('C=CN, O=成都公共资源交易中心, CN=city-a.example');
    expect(leaf.issuer).toBe('C=CN, O=Tongxing Test, CN=Test Intermediate CA');
    expect(leaf.serialNumber).toBe(node.serialNumber.toLowerCase().replace(/^(00)+(?=.)/, ''));
    expect(leaf.notBefore).toEqual(new Date(node.validFrom));
    expect(leaf.notAfter).toEqual(new Date(node.validTo));
    expect(leaf.notAfter.getTime() - leaf.notBefore.getTime()).toBe(leafDays * dayMs);
    const nodeKey = node.publicKey.export({ type: 'spki', format: 'der' });
    expect(leaf.publicKey).toEqual(publicKeyFromSpki(nodeKey));
  });

  it('hashes the issuer Name DER, which is the issuer certificate subject DER', () => {
    const leaf = load(pki.leaf);
    const intermediate = load(pki.intermediate);
    expect(leaf.issuerNameHash).toBe(intermediate.subjectNameHash);
    expect(leaf.issuerNameHash).toMatch(/^[0-9a-f]{64}$/);
    expect(leaf.issuerNameHash).not.toBe(leaf.subjectNameHash);
    expect(leaf.issuerNameHash).toBe(sm3Hex(issuerDerOf(pki.leaf)));
  });

  it('reads a PEM bundle in order, and DER', () => {
    const [leaf, intermediate, ...rest] = readCertificates(readFileSync(pki.leafChainFile, 'utf8'));
    expect(rest).toHaveLength(0);
    expect(leaf!.subject).toMatch(/city-a/);
    expect(intermediate!.subject).toMatch(/Intermediate/);
    const der = openssl(['x509', '-in', pki.root.cert, '-outform', 'DER']);
    expect(parseCertificate(der)).toMatchObject({ subject: load(pki.root).subject, der: new Uint8Array(der) });
    expect(readCertificates(readFileSync(pki.leafChainFile))).toHaveLength(2);
  });

  it('throws EncodingError for malformed input, CertificateError for a non-SM2 key', () => {
    expect(() => readCertificates('no certificates here')).toThrow(EncodingError);
    expect(() => parseCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]))).toThrow(EncodingError);
    expect(() => parseCertificate(readFileSync(pki.leafChainFile, 'utf8'))).toThrow(/expected one certificate, found 2/);
    const der = openssl(['x509', '-in', pki.root.cert, '-outform', 'DER']);
    expect(() => parseCertificate(Buffer.concat([der, Buffer.from([0])]))).toThrow(/trailing/);
    expect(() => load(pki.p256Root)).toThrow(CertificateError);
    expect(() => load(pki.p256Root)).toThrow(/P-256/);
  });

  it('throws EncodingError, not a RangeError, for a name asn1js cannot decode (a BMPString of odd length; the fuzzer found it as a 500)', () => {
    const key = generateKeyPair();
    const der = Buffer.from(issueCertificate({ subject: { commonName: 'abc' }, publicKey: key.publicKey, issuer: { name: { commonName: 'abc' }, keyPair: key }, serialNumber: 1n, notBefore: new Date(0), notAfter: new Date(1e12) }));
    const commonName = der.indexOf(Buffer.from([0x0c, 0x03, 0x61, 0x62, 0x63])); // UTF8String "abc"
    der[commonName] = 0x1e; // BMPString: 3 bytes, not whole UTF-16 code units
    expect(() => parseCertificate(der)).toThrow(EncodingError);
    expect(() => parseCertificate(der)).toThrow(/does not decode/);
  });
});

describe('verifyChain', () => {
  // OpenSSL agrees the fixtures are sound, one link at a time (see opensslVerifiesLink).
  it('fixture links verify in openssl too', () => {
    expect(opensslVerifiesLink(pki.root.cert, pki.intermediate.cert)).toBe(true);
    expect(opensslVerifiesLink(pki.intermediate.cert, pki.leaf.cert)).toBe(true);
  });

  it('accepts leaf -> intermediate -> root', () => {
    const verified = verifyChain(load(pki.leaf), [load(pki.intermediate)], [load(pki.root)], now);
    expect(verified.subject).toMatch(/city-a/);
    expect(verified.chain.map((cert) => cert.subject.replace(/.*CN=/, ''))).toEqual([
      'city-a.example',
      'Test Intermediate CA',
      'Test Root CA',
    ]);
    expect(verified.publicKey).toHaveLength(65);
  });

  it('accepts the bundle as presented, among unrelated roots and intermediates', () => {
    const [leaf, ...intermediates] = readCertificates(readFileSync(pki.leafChainFile, 'utf8'));
    const roots = [load(pki.foreignRoot), load(pki.impostorRoot), load(pki.root)];
    expect(verifyChain(leaf!, [load(pki.caWithoutKeyCertSign), ...intermediates], roots, now).chain).toHaveLength(3);
  });

  it('accepts a certificate that is itself a trust root', () => {
    const root = load(pki.root);
    expect(verifyChain(root, [], [root], now).chain).toEqual([root]);
  });

  /** verifyChain on fixture certificates named by their OpensslPki field, `offsetDays` from now. */
  const check =
    (leaf: Fixture | (() => ParsedCertificate), intermediates: Fixture[], roots: Fixture[], offsetDays = 0) =>
    () =>
      verifyChain(
        typeof leaf === 'string' ? load(pki[leaf]) : leaf(),
        intermediates.map((name) => load(pki[name])),
        roots.map((name) => load(pki[name])),
        new Date(now.getTime() + offsetDays * dayMs),
      );
  const rejections: [string, () => unknown, RegExp][] = [
    [
      'expired leaf',
      check('leaf', ['intermediate'], ['root'], leafDays + 1),
      /"C=CN, O=成都公共资源交易中心, CN=city-a.example" expired at \d{4}-/,
    ],
    ['not yet valid', check('leaf', ['intermediate'], ['root'], -1), /city-a.example" is not yet valid/],
    ['expired root', check('root', [], ['root'], 3651), /Root CA" expired at/],
    [
      'foreign root',
      check('leaf', ['intermediate'], ['foreignRoot']),
      /Intermediate CA" is not signed by any trusted root/,
    ],
    ['leaf of a foreign root', check('foreignLeaf', [], ['root']), /not signed by any trusted root/],
    [
      'missing intermediate',
      check('leaf', [], ['root']),
      /not signed by any trusted root \(issuer "C=CN, O=Tongxing Test, CN=Test Intermediate CA" not found\)/,
    ],
    [
      'impostor root with the same name',
      check('leaf', ['intermediate'], ['impostorRoot']),
      /signature does not verify/,
    ],
    [
      'leaf used as issuer',
      check('issuedByLeaf', ['leaf', 'intermediate'], ['root']),
      /issuer certificate ".*city-a.example" is not a CA \(basicConstraints\)/,
    ],
    [
      'issuer without keyCertSign',
      check('issuedByCaWithoutKeyCertSign', ['caWithoutKeyCertSign'], ['root']),
      /Signing-only CA" keyUsage lacks keyCertSign/,
    ],
    [
      'pathLenConstraint 0 exceeded',
      check('tooDeepLeaf', ['belowPathLength0Ca', 'pathLength0Ca'], ['root']),
      /Path Length 0 CA" allows 0 CA\(s\) below it, chain has 1/,
    ],
    [
      'ECDSA signature',
      check('ecdsaSignedLeaf', [], ['root']),
      /signature algorithm is not SM2-with-SM3 \(OID 1\.2\.840\.10045\.4\.3\.2\)/,
    ],
    ['tampered TBS', check(tamperedLeaf, ['intermediate'], ['root']), /signature does not verify/],
  ];
  it.each(rejections)('rejects: %s', (_name, verifyFixture, reason) => {
    expect(verifyFixture).toThrow(CertificateError);
    expect(verifyFixture).toThrow(reason);
  });

  it('checks structured clones of parsed certificates the same way', () => {
    const leaf = structuredClone(load(pki.leaf));
    expect(verifyChain(leaf, [structuredClone(load(pki.intermediate))], [load(pki.root)], now).chain).toHaveLength(3);
  });
});

/** The leaf's DER with one letter of its CN changed: still parses, no longer verifies. */
function tamperedLeaf(): ParsedCertificate {
  const der = Buffer.from(load(pki.leaf).der);
  const at = der.indexOf('city-a.example');
  der[at] = 'C'.charCodeAt(0);
  return parseCertificate(der);
}

/** The issuer Name DER, cut out with asn1js alone (x509.ts goes through pkijs). */
function issuerDerOf(issued: IssuedCertificate): Uint8Array {
  const der = openssl(['x509', '-in', issued.cert, '-outform', 'DER']);
  const certificate = asn1js.fromBER(der).result as asn1js.Sequence;
  const tbs = certificate.valueBlock.value[0] as asn1js.Sequence;
  // TBSCertificate: [0] version, serialNumber, signature, issuer, ...
  return new Uint8Array(tbs.valueBlock.value[3]!.valueBeforeDecodeView);
}
