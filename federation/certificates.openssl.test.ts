// Certificate records, revocations and CRLs through the views, with a real SM2
// PKI made by the OpenSSL 3 CLI (needs `openssl`). Each rule of
// docs/DOMAIN.md, "SM2 certificates" is checked: chained to a CA trusted at
// recording time, valid at check time, not revoked; revocation wins over any
// later re-record.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Record } from '../gen/tongxing/records/v1/records.js';
import { RevocationReason } from '../gen/tongxing/records/v1/records.js';
import { certificateOutcome, checkCertificateRecord, checkCrlRecord, parseSm2Certificate, serialNumberKey } from './certificates.js';
import { parseCrl } from './crypto/crl.js';
import { crlDer, opensslCrl, tampered } from './crypto/testing/crl.js';
import { issueCertificate, type IssueInput } from './crypto/issue.js';
import { toPem } from './crypto/pem.js';
import { generateKeyPair } from './crypto/sm2.js';
import { createOpensslPki, makeTempDir, openssl, opensslVerifyLink, type IssuedCertificate, type OpensslPki } from './crypto/testing/openssl.js';
import { parseCertificate } from './crypto/x509.js';
import { hlcPack } from './log/hlc.js';
import { validateRecord } from './records/validate.js';
import { certificateRecord, certificateRevocation, certificateRevocationList, usccFor } from './testing/records.js';
import { planViews, rejectionKey, type ViewEntry } from './views/apply.js';
import { certificateKey, resolveCertificate, revocationPrefix, standingOf, type CertificateView, type RevocationView } from './views/certificate.js';
import { openPolicy, type ViewPolicy } from './views/policy.js';
import { decodeView } from './views/provenance.js';

let pki: OpensslPki;
const der = (issued: IssuedCertificate): Uint8Array => new Uint8Array(openssl(['x509', '-in', issued.cert, '-outform', 'DER']));
let rootDer: Uint8Array;
let intermediateDer: Uint8Array;
let leafDer: Uint8Array;
let nowMs: number;
const uscc = usccFor(42);

beforeAll(() => {
  pki = createOpensslPki(makeTempDir());
  rootDer = der(pki.root);
  intermediateDer = der(pki.intermediate);
  leafDer = der(pki.leaf);
  nowMs = Date.now();
});
afterAll(() => pki.dir.remove());

/** Trusts `roots` from `sinceMs` on (by the entry's hlc), nothing before. */
function trusting(roots: () => Uint8Array[], sinceMs = 0): ViewPolicy {
  return { ...openPolicy, trustedRoots: (hlc) => (hlc >= hlcPack(sinceMs, 0) ? roots() : []) };
}

const authors = ['a'.repeat(64), 'b'.repeat(64), 'c'.repeat(64)] as const;

function entry(author: string, seq: number, atMs: number, record: Record): ViewEntry {
  return { author, seq, hlc: hlcPack(atMs, 0), hash: new Uint8Array(32), record };
}

/** Applies entries one batch each, in the given order, to a state map (what the store would hold). */
async function applyAll(entries: readonly ViewEntry[], policy: ViewPolicy): Promise<Map<string, Uint8Array>> {
  const state = new Map<string, Uint8Array>();
  for (const e of entries) {
    const changes = await planViews([e], async (keys) => keys.map((k) => state.get(k)), policy);
    for (const change of changes) {
      if (change.value === undefined) state.delete(change.key);
      else state.set(change.key, change.value);
    }
  }
  return state;
}

function resolved(state: Map<string, Uint8Array>, issuerNameHash: string, serial: string) {
  const view = decodeView<CertificateView>(state.get(certificateKey(issuerNameHash, serial)));
  const revocations = [...state]
    .filter(([key]) => key.startsWith(revocationPrefix(issuerNameHash, serial)))
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([, bytes]) => decodeView<RevocationView>(bytes)!);
  return resolveCertificate(view, revocations);
}

const leafRecord = (holder: { uscc: string } | { expertRef: string } = { uscc }, intermediates = () => [intermediateDer]) => certificateRecord(leafDer, holder, intermediates());

describe('recording: chained to a CA root trusted at the record hlc', () => {
  it('accepts a leaf chained through its intermediate to a trusted root, and answers valid now', async () => {
    const state = await applyAll([entry(authors[0], 1, nowMs, leafRecord())], trusting(() => [rootDer]));
    const leaf = parseCertificate(leafDer);
    const found = resolved(state, leaf.issuerNameHash, serialNumberKey(leaf.serialNumber));
    expect(found.recording?.holder).toEqual({ uscc });
    expect(found.recording?.facts).toMatchObject({ serialNumber: serialNumberKey(leaf.serialNumber), rootCa: 'C=CN, O=Tongxing Test, CN=Test Root CA', issuer: leaf.issuer });
    expect(certificateOutcome(standingOf(found), nowMs)).toMatchObject({ outcome: 'valid' });
    expect(state.has(rejectionKey(authors[0], 1))).toBe(false);
  });

  it('refuses a record made before the alliance trusted the root, and accepts one made after', async () => {
    const trustedFromMs = nowMs + 1000;
    const policy = trusting(() => [rootDer], trustedFromMs);
    const early = await applyAll([entry(authors[0], 1, nowMs, leafRecord())], policy);
    const leaf = parseCertificate(leafDer);
    expect(decodeView<{ reason: string }>(early.get(rejectionKey(authors[0], 1)))?.reason).toMatch(/trusted no CA root/);
    const standing = resolved(early, leaf.issuerNameHash, serialNumberKey(leaf.serialNumber));
    expect(standing.recording).toBeUndefined();
    expect(certificateOutcome(standingOf(standing), nowMs + 2000).outcome).toBe('untrusted-ca');

    const later = await applyAll([entry(authors[0], 1, nowMs, leafRecord()), entry(authors[0], 2, trustedFromMs, leafRecord())], policy);
    expect(certificateOutcome(standingOf(resolved(later, leaf.issuerNameHash, serialNumberKey(leaf.serialNumber))), nowMs + 2000).outcome).toBe('valid');
  });

  it('refuses a chain without its intermediate, a foreign root, an impostor root and a non-CA issuer as untrusted', () => {
    const roots = [rootDer];
    const refusal = (record: Record) => {
      const kind = record.kind!;
      if (kind.$case !== 'certificateRecord') throw new Error('a certificate record');
      const checked = checkCertificateRecord(kind.value, roots, nowMs);
      return 'ok' in checked ? 'accepted' : checked.refusal;
    };
    expect(refusal(certificateRecord(leafDer, { uscc }))).toBe('untrusted-ca');
    expect(refusal(certificateRecord(der(pki.foreignLeaf), { uscc }))).toBe('untrusted-ca');
    expect(refusal(certificateRecord(leafDer, { uscc }, [intermediateDer, der(pki.impostorRoot)]))).toBe('accepted');
    expect(refusal(certificateRecord(der(pki.issuedByLeaf), { uscc }, [leafDer, intermediateDer]))).toBe('untrusted-ca');
    const checked = checkCertificateRecord(
      { certificateDer: Buffer.from(leafDer), holder: { $case: 'entityUscc', value: uscc }, usccOverride: undefined, intermediatesDer: [Buffer.from(intermediateDer)] },
      [der(pki.impostorRoot)],
      nowMs,
    );
    expect(checked).toMatchObject({ refusal: 'untrusted-ca', message: expect.stringMatching(/does not chain to a CA root the alliance trusts/) });
  });

  it('says "certificate not SM2" for a P-256 key or an ECDSA signature, and "malformed" for junk', () => {
    expect(parseSm2Certificate(der(pki.p256Root))).toMatchObject({ refusal: 'not-sm2', message: expect.stringMatching(/^certificate not SM2: .*P-256/) });
    expect(parseSm2Certificate(der(pki.ecdsaSignedLeaf))).toMatchObject({ refusal: 'not-sm2', message: expect.stringMatching(/^certificate not SM2: signed with algorithm OID 1\.2\.840\.10045\.4\.3\.2/) });
    expect(parseSm2Certificate(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]))).toMatchObject({ refusal: 'malformed' });
  });

  it('refuses to record a certificate already expired, and answers expired / not yet valid by the chain window', async () => {
    const leaf = parseCertificate(leafDer);
    const kind = leafRecord().kind!;
    if (kind.$case !== 'certificateRecord') throw new Error('a certificate record');
    const late = checkCertificateRecord(kind.value, [rootDer], leaf.notAfter.getTime() + 1);
    expect(late).toMatchObject({ refusal: 'expired' });

    const state = await applyAll([entry(authors[0], 1, nowMs, leafRecord())], trusting(() => [rootDer]));
    const standing = standingOf(resolved(state, leaf.issuerNameHash, serialNumberKey(leaf.serialNumber)));
    expect(standing.facts!.notAfterMs).toBe(leaf.notAfter.getTime()); // the leaf ends first
    expect(certificateOutcome(standing, leaf.notAfter.getTime() + 1)).toMatchObject({ outcome: 'expired', detail: expect.stringMatching(/^expired at/) });
    expect(certificateOutcome(standing, leaf.notBefore.getTime() - 1)).toMatchObject({ outcome: 'not-yet-valid' });
    // A root the alliance no longer trusts refuses logins, when the caller knows today's roots.
    expect(certificateOutcome(standing, nowMs, () => false).outcome).toBe('untrusted-ca');
  });

  it('binds the holder of the earliest accepted record by (hlc, author), whatever the arrival order', async () => {
    const policy = trusting(() => [rootDer]);
    const first = entry(authors[1], 1, nowMs, leafRecord({ uscc }));
    const second = entry(authors[0], 1, nowMs + 5, leafRecord({ expertRef: 'km.e-000123' }));
    const leaf = parseCertificate(leafDer);
    for (const order of [[first, second], [second, first]]) {
      const state = await applyAll(order, policy);
      const found = resolved(state, leaf.issuerNameHash, serialNumberKey(leaf.serialNumber));
      expect(found.recording!.holder).toEqual({ uscc });
      expect(found.observations.map((o) => o.holder)).toEqual([{ expertRef: 'km.e-000123' }]);
    }
  });
});

describe('revocation wins', () => {
  it('over an earlier record and over a later re-record, in any arrival order', async () => {
    const policy = trusting(() => [rootDer]);
    const leaf = parseCertificate(leafDer);
    const record = entry(authors[0], 1, nowMs, leafRecord());
    const revoke = entry(authors[1], 1, nowMs + 10, certificateRevocation(leaf.issuerNameHash, serialNumberKey(leaf.serialNumber), nowMs + 10));
    const reRecord = entry(authors[2], 1, nowMs + 20, leafRecord());
    const answers = new Set<string>();
    for (const order of [[record, revoke, reRecord], [reRecord, revoke, record], [revoke, reRecord, record]]) {
      const state = await applyAll(order, policy);
      const standing = standingOf(resolved(state, leaf.issuerNameHash, serialNumberKey(leaf.serialNumber)));
      answers.add(JSON.stringify([...state].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, Buffer.from(v).toString('hex')])));
      expect(certificateOutcome(standing, nowMs + 30)).toMatchObject({ outcome: 'revoked', detail: expect.stringMatching(/recorded from a member/) });
      // As of before the revocation took effect, the certificate was valid.
      expect(certificateOutcome(standing, nowMs + 5).outcome).toBe('valid');
    }
    expect(answers.size).toBe(1); // the same view whatever the order
  });
});

describe('serial numbers', () => {
  it('name a certificate without leading zeros, as revocations and alerts do, even when its first byte is below 0x10', async () => {
    // openssl x509 -set_serial: a serial whose hex starts with 0 (0x0f01) once the INTEGER's bytes are written out.
    const key = pki.dir.file('zero-serial.key');
    openssl(['genpkey', '-algorithm', 'SM2', '-out', key]);
    const csr = pki.dir.file('zero-serial.csr');
    const distid = 'distid:1234567812345678';
    openssl(['req', '-new', '-key', key, '-sm3', '-sigopt', distid, '-subj', '/C=CN/CN=zero-serial', '-out', csr]);
    const cert = pki.dir.file('zero-serial.pem');
    openssl(['x509', '-req', '-in', csr, '-CA', pki.intermediate.cert, '-CAkey', pki.intermediate.key, '-set_serial', '0x0f01', '-sm3', '-sigopt', distid, '-vfyopt', distid, '-days', '30', '-out', cert]);
    const der = new Uint8Array(openssl(['x509', '-in', cert, '-outform', 'DER']));
    const parsed = parseCertificate(der);
    expect(parsed.serialNumber).toBe('0f01');
    expect(serialNumberKey(parsed.serialNumber)).toBe('f01');

    // Issued just now: recorded from now on (a record before its notBefore is refused).
    const recordedMs = Date.now();
    const revoke = certificateRevocation(parsed.issuerNameHash, 'f01', recordedMs + 1);
    validateRecord(revoke);
    const state = await applyAll([entry(authors[0], 1, recordedMs, certificateRecord(der, { uscc }, [intermediateDer])), entry(authors[1], 1, recordedMs + 1, revoke)], trusting(() => [rootDer]));
    const found = resolved(state, parsed.issuerNameHash, 'f01');
    expect(found.recording?.facts.serialNumber).toBe('f01');
    expect(certificateOutcome(standingOf(found), recordedMs + 2).outcome).toBe('revoked');
    expect(serialNumberKey('0')).toBe('0');
    expect(serialNumberKey('000')).toBe('0');
  });
});

describe('CRL import: signed by a CA chained to a trusted root', () => {
  let crlFile: string;
  beforeAll(() => {
    crlFile = opensslCrl(pki.dir, 'intermediate', pki.intermediate, [{ cert: pki.leaf.cert, reason: 'keyCompromise' }]);
  });

  it('parses the CRL OpenSSL made and revokes what it lists, with the reason', async () => {
    const crl = parseCrl(readFileSync(crlFile, 'utf8'));
    const leaf = parseCertificate(leafDer);
    expect(crl.issuerNameHash).toBe(leaf.issuerNameHash);
    expect(crl.entries.map((e) => serialNumberKey(e.serialNumber))).toEqual([serialNumberKey(leaf.serialNumber)]);

    const policy = trusting(() => [rootDer]);
    const state = await applyAll(
      [entry(authors[0], 1, nowMs, leafRecord()), entry(authors[1], 1, nowMs + 1, certificateRevocationList(crlDer(crlFile), [intermediateDer]))],
      policy,
    );
    expect(state.has(rejectionKey(authors[1], 1))).toBe(false);
    const found = resolved(state, leaf.issuerNameHash, serialNumberKey(leaf.serialNumber));
    expect(found.revocations).toEqual([expect.objectContaining({ fromCrl: true, reason: RevocationReason.REVOCATION_REASON_KEY_COMPROMISE })]);
    // The CRL says when (its revocationDate, made just now): revoked from then on.
    const revokedAtMs = crl.entries[0]!.revokedAt.getTime();
    expect(certificateOutcome(standingOf(found), revokedAtMs)).toMatchObject({ outcome: 'revoked', detail: expect.stringMatching(/CA-signed CRL/) });
    expect(certificateOutcome(standingOf(found), revokedAtMs - 1).outcome).toBe('valid');
  });

  it('refuses a CRL whose signature was tampered with, one signed by an untrusted CA, and one without its issuer chain', async () => {
    const policy = trusting(() => [rootDer]);
    const foreignCrl = opensslCrl(pki.dir, 'foreign', pki.foreignRoot, [{ cert: pki.foreignLeaf.cert }]);
    const cases: Array<[string, Record, RegExp]> = [
      ['tampered', certificateRevocationList(tampered(crlDer(crlFile)), [intermediateDer]), /CRL signature does not verify/],
      ['untrusted CA', certificateRevocationList(crlDer(foreignCrl)), /neither a trusted root nor in the given issuer chain/],
      ['no chain', certificateRevocationList(crlDer(crlFile)), /neither a trusted root nor in the given issuer chain/],
      ['chain through an impostor', certificateRevocationList(crlDer(foreignCrl), [der(pki.foreignRoot)]), /not signed by any trusted root|issuer .* not found/],
      ['not a CRL', certificateRevocationList(leafDer), /^CRL: /],
    ];
    for (const [name, record, reason] of cases) {
      const state = await applyAll([entry(authors[0], 1, nowMs, record)], policy);
      const rejection = decodeView<{ reason: string }>(state.get(rejectionKey(authors[0], 1)));
      expect(rejection?.reason, name).toMatch(reason);
      expect([...state.keys()].filter((k) => k.startsWith('view/revoked/')), name).toEqual([]);
    }
  });

  it('refuses a CRL recorded before the alliance trusted its root', () => {
    const kind = certificateRevocationList(crlDer(crlFile), [intermediateDer]).kind!;
    if (kind.$case !== 'certificateRevocationList') throw new Error('a CRL record');
    expect(checkCrlRecord(kind.value, [])).toMatchObject({ refusal: 'untrusted-ca' });
    expect(checkCrlRecord(kind.value, [rootDer])).toMatchObject({ ok: { issuer: 'C=CN, O=Tongxing Test, CN=Test Intermediate CA' } });
  });

  it('accepts a CRL signed by a trusted root itself, and refuses one by a CA without cRLSign', () => {
    const rootCrl = opensslCrl(pki.dir, 'root', pki.root, [{ cert: pki.intermediate.cert, reason: 'superseded' }]);
    const kind = certificateRevocationList(crlDer(rootCrl)).kind!;
    if (kind.$case !== 'certificateRevocationList') throw new Error('a CRL record');
    const checked = checkCrlRecord(kind.value, [rootDer]);
    expect(checked).toMatchObject({ ok: { entries: [expect.objectContaining({ reason: RevocationReason.REVOCATION_REASON_SUPERSEDED })] } });

    const signingOnly = opensslCrl(pki.dir, 'signing-only', pki.caWithoutKeyCertSign, []);
    const noCrlSign = certificateRevocationList(crlDer(signingOnly), [der(pki.caWithoutKeyCertSign)]).kind!;
    if (noCrlSign.$case !== 'certificateRevocationList') throw new Error('a CRL record');
    expect(checkCrlRecord(noCrlSign.value, [rootDer])).toMatchObject({ refusal: 'untrusted-ca', message: expect.stringMatching(/lacks cRLSign/) });
  });
});

// RFC 5280 4.2.1.3 (keyUsage), 4.2.1.9 (basicConstraints), 4.2.1.12 (extKeyUsage): a
// certificate recorded for a holder signs logins, so it must be allowed to. The three
// certificates of issue 12, made in-process (issue.ts); OpenSSL, an independent reading of
// the same rules, refuses each with `verify -purpose sslclient`, and so do the views.
describe('recording and login: only certificates allowed to sign a login', () => {
  const dayMs = 86_400_000;
  const caKey = generateKeyPair();
  const caName = { commonName: 'Usage Test Root CA' };
  let usageRootDer: Uint8Array;
  let usageRootFile: string;
  const leafOf = (serialNumber: bigint, edit: Partial<IssueInput> = {}): Uint8Array => {
    const key = generateKeyPair();
    const input: IssueInput = { subject: { commonName: `leaf-${serialNumber}` }, publicKey: key.publicKey, issuer: { name: caName, keyPair: caKey }, serialNumber, notBefore: new Date(nowMs - dayMs), notAfter: new Date(nowMs + 30 * dayMs), ...edit };
    return new Uint8Array(issueCertificate(input));
  };
  const fileOf = (name: string, certificate: Uint8Array) => pki.dir.write(`${name}.pem`, toPem('CERTIFICATE', certificate));
  const recordOf = (certificate: Uint8Array) => {
    const kind = certificateRecord(certificate, { uscc }).kind!;
    if (kind.$case !== 'certificateRecord') throw new Error('a certificate record');
    return kind.value;
  };
  const misused: Array<[string, Partial<IssueInput>, RegExp]> = [
    ['a keyEncipherment-only leaf', { keyUsage: ['keyEncipherment'] }, /keyUsage \(keyEncipherment\) lacks digitalSignature.*\(RFC 5280 4\.2\.1\.3\)/],
    ['a leaf whose critical EKU allows only serverAuth', { extendedKeyUsage: { purposes: ['1.3.6.1.5.5.7.3.1'], critical: true } }, /extendedKeyUsage \(serverAuth\) allows neither clientAuth nor anyExtendedKeyUsage.*\(RFC 5280 4\.2\.1\.12\)/],
    ['a CA certificate (basicConstraints CA:TRUE, keyCertSign only)', { ca: true, keyUsage: ['keyCertSign'] }, /is a CA certificate \(basicConstraints CA:TRUE\).*\(RFC 5280 4\.2\.1\.9\)/],
  ];

  beforeAll(() => {
    usageRootDer = new Uint8Array(issueCertificate({ subject: caName, publicKey: caKey.publicKey, issuer: { name: caName, keyPair: caKey }, serialNumber: 1n, notBefore: new Date(nowMs - dayMs), notAfter: new Date(nowMs + 3650 * dayMs), ca: true }));
    usageRootFile = fileOf('usage-root', usageRootDer);
  });

  it('records and logs in with a digitalSignature leaf, which openssl -purpose sslclient accepts too', async () => {
    const good = leafOf(2n, { extendedKeyUsage: { purposes: ['1.3.6.1.5.5.7.3.2'], critical: true } });
    expect(opensslVerifyLink(usageRootFile, fileOf('usage-good', good), { purpose: 'sslclient' })).toBe('OK');
    expect(checkCertificateRecord(recordOf(good), [usageRootDer], nowMs)).toHaveProperty('ok');
  });

  it.each(misused)('refuses %s at recording and at login, as openssl -purpose sslclient does', async (name, edit, rule) => {
    const certificate = leafOf(BigInt(10 + misused.findIndex(([n]) => n === name)), edit);
    const file = fileOf(`usage-${name.replace(/\W+/g, '-')}`, certificate);
    // OpenSSL: the chain is fine, the purpose is not.
    expect(opensslVerifyLink(usageRootFile, file)).toBe('OK');
    expect(opensslVerifyLink(usageRootFile, file, { purpose: 'sslclient' })).toMatch(/unsuitable certificate purpose/);

    // Recording (the API's check and the views' rule are this one function).
    expect(checkCertificateRecord(recordOf(certificate), [usageRootDer], nowMs)).toMatchObject({ refusal: 'usage-not-allowed', message: expect.stringMatching(rule) });
    // Written past the API's check, the views refuse it; a login then answers why.
    const state = await applyAll([entry(authors[0], 1, nowMs, certificateRecord(certificate, { uscc }))], trusting(() => [usageRootDer]));
    expect(decodeView<{ reason: string }>(state.get(rejectionKey(authors[0], 1)))?.reason).toMatch(rule);
    const parsed = parseCertificate(certificate);
    const found = resolved(state, parsed.issuerNameHash, serialNumberKey(parsed.serialNumber));
    expect(found.recording).toBeUndefined();
    expect(certificateOutcome(standingOf(found), nowMs)).toMatchObject({ outcome: 'not-recorded', detail: expect.stringMatching(rule) });
  });

  it('refuses to record a certificate not yet valid, as `verify` answers at that time; from its notBefore on it records', () => {
    const notBeforeMs = Math.ceil(nowMs / 1000) * 1000 + dayMs; // whole seconds: UTCTime drops milliseconds
    const early = leafOf(20n, { notBefore: new Date(notBeforeMs) });
    const file = fileOf('usage-not-yet-valid', early);
    expect(opensslVerifyLink(usageRootFile, file, { atMs: notBeforeMs - 1000 })).toMatch(/certificate is not yet valid/);
    expect(opensslVerifyLink(usageRootFile, file, { atMs: notBeforeMs })).toBe('OK');
    expect(checkCertificateRecord(recordOf(early), [usageRootDer], notBeforeMs - 1)).toMatchObject({ refusal: 'not-yet-valid', message: expect.stringMatching(/is not yet valid \(notBefore .*\); recorded at/) });
    expect(checkCertificateRecord(recordOf(early), [usageRootDer], notBeforeMs)).toHaveProperty('ok');
  });

  it('refuses to record a leaf whose intermediate is not yet valid, naming the intermediate', () => {
    const intermediateKey = generateKeyPair();
    const name = { commonName: 'Late Intermediate CA' };
    const late = new Uint8Array(issueCertificate({ subject: name, publicKey: intermediateKey.publicKey, issuer: { name: caName, keyPair: caKey }, serialNumber: 30n, notBefore: new Date(nowMs + dayMs), notAfter: new Date(nowMs + 365 * dayMs), ca: true }));
    const leaf = new Uint8Array(issueCertificate({ subject: { commonName: 'below-late' }, publicKey: generateKeyPair().publicKey, issuer: { name, keyPair: intermediateKey }, serialNumber: 31n, notBefore: new Date(nowMs - dayMs), notAfter: new Date(nowMs + 30 * dayMs) }));
    const record = certificateRecord(leaf, { uscc }, [late]).kind!;
    if (record.$case !== 'certificateRecord') throw new Error('a certificate record');
    expect(checkCertificateRecord(record.value, [usageRootDer], nowMs)).toMatchObject({ refusal: 'not-yet-valid', message: expect.stringMatching(/^certificate "CN=Late Intermediate CA" is not yet valid/) });
  });
});
