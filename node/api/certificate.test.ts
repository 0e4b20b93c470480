import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Verdict } from '../../gen/tongxing/api/v1/api.js';
import { LoginOutcome } from '../../gen/tongxing/api/v1/certificates.js';
import { EvidenceBundle } from '../../gen/tongxing/api/v1/evidence.js';
import { ImportState, TransferKind, type ImportItem } from '../../gen/tongxing/api/v1/transfer.js';
import { RevocationReason, type EntityProfile, type SanctionIssue } from '../../gen/tongxing/records/v1/records.js';
import { serialNumberKey } from '../../federation/certificates.js';
import { crlDer, opensslCrl } from '../../federation/crypto/testing/crl.js';
import { createOpensslPki, makeTempDir, openssl, opensslIssue, opensslSign, type IssuedCertificate, type OpensslPki } from '../../federation/crypto/testing/openssl.js';
import { readPrivateKeyPem } from '../../federation/crypto/pem.js';
import { issueCertificate, type IssueInput } from '../../federation/crypto/issue.js';
import { generateKeyPair, nodeIdOf, sign, type Sm2KeyPair } from '../../federation/crypto/sm2.js';
import { parseCertificate } from '../../federation/crypto/x509.js';
import { keyPairSigner, verifyEvidence } from '../../federation/evidence.js';
import { loginChallengeTtlMs } from '../limits.js';
import { Membership, type Member } from '../../federation/membership.js';
import { Replica } from '../../federation/replica.js';
import { Bus } from '../../federation/testing/bus.js';
import { MemoryStore } from '../../federation/store/memory.js';
import { certificateRecord, entityProfile, sanction, usccFor, watchSanction } from '../../federation/testing/records.js';
import { openPolicy, type ViewPolicy } from '../../federation/views/policy.js';
import { ApiError, connectApi, type ApiClient } from './client.js';
import { connectDomainApi, type DomainClient } from './domain-client.js';
import { startTestApi } from '../access/testing.js';
import { Prng } from '../../federation/testing/prng.js';

// Certificates recognised everywhere (一锁通行) and sanctions enforced
// everywhere (一处失信、处处受限), end to end over real grpc-js on 127.0.0.1: three
// cities' Replicas on MemoryStores on an in-process bus, each with its client
// API, trusting the root of a real SM2 PKI made by the OpenSSL CLI; the USB
// key's signature is made by OpenSSL too. (In-process rather than node
// processes: the node's configuration cannot carry trusted CA roots yet.)

const allianceId = Buffer.alloc(32, 0x6b);
const freshnessBudgetMs = 3_600_000;
const dayMs = 86_400_000;

let pki: OpensslPki;
let rootDer: Uint8Array;
let intermediateDer: Uint8Array;
let leafDer: Uint8Array;
/** A second leaf of the same intermediate, which no member records. */
let unrecorded: IssuedCertificate;
const derOf = (issued: IssuedCertificate): Uint8Array => new Uint8Array(openssl(['x509', '-in', issued.cert, '-outform', 'DER']));

beforeAll(() => {
  pki = createOpensslPki(makeTempDir());
  rootDer = derOf(pki.root);
  intermediateDer = derOf(pki.intermediate);
  leafDer = derOf(pki.leaf);
  unrecorded = opensslIssue(pki.dir, 'unrecorded', { subject: '/C=CN/O=Tongxing Test/CN=unrecorded', profile: 'leaf', days: 30, issuer: pki.intermediate });
});
afterAll(() => pki.dir.remove());

class Clock {
  constructor(public now: number) {}
  nowMs(): number {
    return this.now;
  }
}

interface City {
  readonly nodeId: string;
  readonly city: string;
  readonly keys: Sm2KeyPair;
  readonly replica: Replica;
  readonly api: ApiClient;
  readonly domain: DomainClient;
}

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  const pending = cleanups.reverse();
  cleanups = [];
  for (const cleanup of pending) await cleanup();
});

async function alliance(options: { policy?: ViewPolicy; signer?: boolean } = {}): Promise<{ cities: City[]; clock: Clock; members: Member[] }> {
  const names = ['Kunming', 'Guiyang', 'Nanning'];
  const clock = new Clock(Date.now());
  const policy = options.policy ?? { ...openPolicy, trustedRoots: () => [rootDer] };
  const keys = names.map(() => generateKeyPair());
  const members: Member[] = names.map((city, i) => ({ nodeId: nodeIdOf(keys[i]!.publicKey), publicKey: keys[i]!.publicKey, city, regionCode: ['530100', '520100', '450100'][i]!, endpoints: [] }));
  const bus = new Bus();
  const cities: City[] = [];
  for (const [i, city] of names.entries()) {
    const nodeId = members[i]!.nodeId;
    const replica = await Replica.open(
      { allianceId, keyPair: keys[i]!, members: new Membership(members), policy },
      { store: new MemoryStore(), transport: bus.transport(nodeId), clock, random: new Prng('test').random() },
    );
    bus.replicas.set(nodeId, replica);
    cleanups.push(() => replica.close());
    const server = await startTestApi({ replica, clock, freshnessBudgetMs, city, allianceId, startedAtMs: clock.now, policy, signer: options.signer === false ? undefined : keyPairSigner(keys[i]!) },
    );
    cleanups.push(() => server.stop());
    const api = connectApi(`127.0.0.1:${server.port}`);
    const domain = connectDomainApi(`127.0.0.1:${server.port}`);
    cleanups.push(() => api.close(), () => domain.close());
    cities.push({ nodeId, city, keys: keys[i]!, replica, api, domain });
  }
  return { cities, clock, members };
}

/** Waits (bounded) until `at` stores `count` entries of `author`'s log. */
async function replicated(at: City, author: City, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  const stored = () => at.replica.logs().find((l) => l.nodeId === author.nodeId)!.storedSeq;
  while (stored() < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(stored()).toBeGreaterThanOrEqual(count);
}

/** What the USB key does: SM2-sign the challenge bytes (here with the OpenSSL CLI, an independent implementation). */
function usbKeySign(key: IssuedCertificate, challenge: Uint8Array): Buffer {
  const file = pki.dir.write(`challenge-${Buffer.from(challenge).toString('hex')}.bin`, challenge);
  return opensslSign(key.key, file);
}

async function login(at: City, certificate: IssuedCertificate, signWith = certificate, byRef = false) {
  const { challenge } = await at.domain.issueChallenge();
  const der = derOf(certificate);
  const parsed = parseCertificate(der);
  const ref = byRef ? { issuerNameHash: parsed.issuerNameHash, serialNumber: serialNumberKey(parsed.serialNumber) } : { certificateDer: Buffer.from(der) };
  return at.domain.verifyLogin({ challenge, signature: usbKeySign(signWith, challenge), ...ref });
}

async function refusal(call: Promise<unknown>): Promise<ApiError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

const uscc = usccFor(2025);
const recordLeaf = (at: City, holder: { uscc: string } | { expertRef: string } = { uscc }) => {
  const kind = certificateRecord(leafDer, holder, [intermediateDer]).kind!;
  if (kind.$case !== 'certificateRecord') throw new Error('a certificate record');
  return at.domain.recordCertificate(kind.value);
};
const profile = (code: string, name: string): EntityProfile => ({ ...entityProfile(code), legalName: name });

describe('one certificate, every city (一锁通行)', () => {
  it('records at Kunming and logs in at Guiyang; a sanction issued at Nanning blocks the login-time check at Guiyang', async () => {
    const { cities, clock } = await alliance();
    const [kunming, guiyang, nanning] = cities as [City, City, City];
    await kunming.api.registerEntity(profile(uscc, '滇池建设有限公司'));
    const recorded = await recordLeaf(kunming);
    expect(recorded.provenance).toMatchObject({ authorCity: 'Kunming', seq: 2n });
    expect(recorded.certificate).toMatchObject({ rootCa: 'C=CN, O=Tongxing Test, CN=Test Root CA', issuer: 'C=CN, O=Tongxing Test, CN=Test Intermediate CA' });
    await replicated(guiyang, kunming, 2);

    const first = await login(guiyang, pki.leaf);
    expect(first).toMatchObject({ valid: true, outcome: LoginOutcome.LOGIN_OUTCOME_VALID, holder: { id: { $case: 'entityUscc', value: uscc }, name: '滇池建设有限公司' } });
    expect(first.certificate!.subject).toBe('C=CN, O=成都公共资源交易中心, CN=city-a.example');
    expect(first.recorded).toMatchObject({ authorCity: 'Kunming', seq: 2n });
    expect(first.sanctions!.verdict).not.toBe(Verdict.VERDICT_RESTRICTED);
    expect(first.watch).toEqual([]);
    // By issuer and serial instead of the certificate itself, too.
    expect((await login(guiyang, pki.leaf, pki.leaf, true)).valid).toBe(true);

    await nanning.api.issueSanction(sanction('NN-2025-9', uscc, clock.now - dayMs));
    await replicated(guiyang, nanning, 1);
    const second = await login(guiyang, pki.leaf);
    expect(second.valid).toBe(true); // authentication still holds ...
    expect(second.sanctions!.verdict).toBe(Verdict.VERDICT_RESTRICTED); // ... and the platform sees the ban
    expect(second.sanctions!.sanctions.map((s) => [s.sanction!.sanctionId, s.issued!.authorCity])).toEqual([['NN-2025-9', 'Nanning']]);
  });

  it('refuses each failure with its own reason, at a city that did not record the certificate', async () => {
    const { cities, clock } = await alliance();
    const [kunming, guiyang] = cities as [City, City, City];
    await recordLeaf(kunming);
    await replicated(guiyang, kunming, 1);
    const leaf = parseCertificate(leafDer);
    const outcome = async (promise: ReturnType<typeof login>) => (await promise).outcome;

    // Challenges: never issued, replayed, expired.
    const never = await guiyang.domain.verifyLogin({ challenge: Buffer.alloc(32, 7), certificateDer: Buffer.from(leafDer), signature: Buffer.alloc(64, 1) });
    expect(never).toMatchObject({ valid: false, outcome: LoginOutcome.LOGIN_OUTCOME_CHALLENGE_UNKNOWN });
    const { challenge } = await guiyang.domain.issueChallenge();
    const signature = usbKeySign(pki.leaf, challenge);
    expect((await guiyang.domain.verifyLogin({ challenge, certificateDer: Buffer.from(leafDer), signature })).valid).toBe(true);
    const replay = await guiyang.domain.verifyLogin({ challenge, certificateDer: Buffer.from(leafDer), signature });
    expect(replay).toMatchObject({ valid: false, outcome: LoginOutcome.LOGIN_OUTCOME_CHALLENGE_USED });
    const stale = await guiyang.domain.issueChallenge();
    clock.now += loginChallengeTtlMs + 1;
    const expired = await guiyang.domain.verifyLogin({ challenge: stale.challenge, certificateDer: Buffer.from(leafDer), signature: usbKeySign(pki.leaf, stale.challenge) });
    expect(expired.outcome).toBe(LoginOutcome.LOGIN_OUTCOME_CHALLENGE_EXPIRED);
    // A challenge issued by another node is unknown here: challenges are per node.
    const elsewhere = await kunming.domain.issueChallenge();
    expect((await guiyang.domain.verifyLogin({ challenge: elsewhere.challenge, certificateDer: Buffer.from(leafDer), signature: usbKeySign(pki.leaf, elsewhere.challenge) })).outcome).toBe(
      LoginOutcome.LOGIN_OUTCOME_CHALLENGE_UNKNOWN,
    );

    // The certificate: not recorded, signed by someone else, not yet valid, expired.
    expect(await outcome(login(guiyang, unrecorded))).toBe(LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_NOT_RECORDED);
    const wrong = await login(guiyang, pki.leaf, unrecorded);
    expect(wrong).toMatchObject({ valid: false, outcome: LoginOutcome.LOGIN_OUTCOME_WRONG_SIGNATURE, holder: { id: { value: uscc } } });
    clock.now = leaf.notBefore.getTime() - 1;
    expect(await outcome(login(guiyang, pki.leaf))).toBe(LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_NOT_YET_VALID);
    clock.now = leaf.notAfter.getTime() + 1;
    expect(await outcome(login(guiyang, pki.leaf))).toBe(LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_EXPIRED);
    clock.now = leaf.notBefore.getTime() + dayMs;

    // A certificate of a CA the alliance does not trust, written past the API's check: the views refused it.
    await kunming.replica.write(certificateRecord(derOf(pki.foreignLeaf), { uscc }));
    await replicated(guiyang, kunming, 2);
    expect(await outcome(login(guiyang, pki.foreignLeaf))).toBe(LoginOutcome.LOGIN_OUTCOME_UNTRUSTED_CA);

    // Revoked at Kunming: refused at Guiyang once the revocation arrives.
    await kunming.domain.revokeCertificate({ serialNumber: serialNumberKey(leaf.serialNumber), issuerNameHash: leaf.issuerNameHash, revokedAtMs: 0n, reason: RevocationReason.REVOCATION_REASON_KEY_COMPROMISE, crlDer: Buffer.alloc(0) });
    await replicated(guiyang, kunming, 3);
    const revoked = await login(guiyang, pki.leaf);
    expect(revoked).toMatchObject({ valid: false, outcome: LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_REVOKED, detail: expect.stringMatching(/recorded from a member/) });
  });

  it('accepts a raw r||s signature as well as DER', async () => {
    const { cities } = await alliance();
    const [kunming] = cities as [City];
    await recordLeaf(kunming);
    const { challenge } = await kunming.domain.issueChallenge();
    const keys = readPrivateKeyPem(readFileSync(pki.leaf.key, 'utf8'));
    const der = sign(keys.privateKey, challenge, keys.publicKey);
    // DER SEQUENCE { r, s } -> 32-byte r || 32-byte s
    const r = der.subarray(4, 4 + der[3]!);
    const s = der.subarray(6 + der[3]!);
    const raw = Buffer.concat([Buffer.alloc(32 - r.length + (r[0] === 0 ? 1 : 0)), r.subarray(r[0] === 0 ? 1 : 0), Buffer.alloc(32 - s.length + (s[0] === 0 ? 1 : 0)), s.subarray(s[0] === 0 ? 1 : 0)]);
    expect(raw).toHaveLength(64);
    expect((await kunming.domain.verifyLogin({ challenge, certificateDer: Buffer.from(leafDer), signature: raw })).valid).toBe(true);
  });

  it('refuses bad input naming the field, recording nothing and using up no challenge', async () => {
    const { cities } = await alliance();
    const [kunming] = cities as [City];
    const notSm2 = await refusal(kunming.domain.recordCertificate({ certificateDer: Buffer.from(derOf(pki.p256Root)), holder: { $case: 'entityUscc', value: uscc }, usccOverride: undefined, intermediatesDer: [] }));
    expect(notSm2).toMatchObject({ code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^record\.certificateDer: certificate not SM2: .*P-256/) });
    const ecdsa = await refusal(kunming.domain.recordCertificate({ certificateDer: Buffer.from(derOf(pki.ecdsaSignedLeaf)), holder: { $case: 'entityUscc', value: uscc }, usccOverride: undefined, intermediatesDer: [] }));
    expect(ecdsa.details).toMatch(/^record\.certificateDer: certificate not SM2: signed with algorithm/);
    const untrusted = await refusal(kunming.domain.recordCertificate({ certificateDer: Buffer.from(derOf(pki.foreignLeaf)), holder: { $case: 'entityUscc', value: uscc }, usccOverride: undefined, intermediatesDer: [] }));
    expect(untrusted.details).toMatch(/^record\.certificateDer: does not chain to a CA root the alliance trusts/);
    const noIntermediate = await refusal(kunming.domain.recordCertificate({ certificateDer: Buffer.from(leafDer), holder: { $case: 'entityUscc', value: uscc }, usccOverride: undefined, intermediatesDer: [] }));
    expect(noIntermediate.details).toMatch(/issuer "C=CN, O=Tongxing Test, CN=Test Intermediate CA" not found/);
    const badIntermediate = await refusal(kunming.domain.recordCertificate({ certificateDer: Buffer.from(leafDer), holder: { $case: 'entityUscc', value: uscc }, usccOverride: undefined, intermediatesDer: [Buffer.from(derOf(pki.p256Root))] }));
    expect(badIntermediate.details).toMatch(/^record\.intermediatesDer\[0\]: intermediate certificate 0 not SM2/);
    const badHolder = await refusal(kunming.domain.recordCertificate({ certificateDer: Buffer.from(leafDer), holder: { $case: 'entityUscc', value: '91350100M000100Y44' }, usccOverride: undefined, intermediatesDer: [] }));
    expect(badHolder.details).toMatch(/^record\.entityUscc: check character/);
    expect(kunming.replica.logs().find((l) => l.nodeId === kunming.nodeId)!.storedSeq).toBe(0);

    await recordLeaf(kunming);
    const { challenge } = await kunming.domain.issueChallenge();
    const badSignature = await refusal(kunming.domain.verifyLogin({ challenge, certificateDer: Buffer.from(leafDer), signature: Buffer.alloc(70, 5) }));
    expect(badSignature).toMatchObject({ code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^signature: neither raw r\|\|s \(64 bytes\) nor DER/) });
    const shortChallenge = await refusal(kunming.domain.verifyLogin({ challenge: Buffer.alloc(8), certificateDer: Buffer.from(leafDer), signature: Buffer.alloc(64, 1) }));
    expect(shortChallenge.details).toBe('challenge: 8 bytes, expected 32');
    const noCertificate = await refusal(kunming.domain.verifyLogin({ challenge, signature: Buffer.alloc(64, 1) }));
    expect(noCertificate.details).toMatch(/^certificateDer: missing/);
    // The challenge survived the refusals.
    expect((await kunming.domain.verifyLogin({ challenge, certificateDer: Buffer.from(leafDer), signature: usbKeySign(pki.leaf, challenge) })).valid).toBe(true);
  });

  it('keeps one holder per certificate: a second binding elsewhere is refused, a retry here answers the same', async () => {
    const { cities } = await alliance();
    const [kunming, guiyang] = cities as [City, City, City];
    const first = await recordLeaf(kunming);
    expect(await recordLeaf(kunming)).toEqual(first);
    await replicated(guiyang, kunming, 1);
    const other = await refusal(recordLeaf(guiyang, { expertRef: 'gy.e-000001' }));
    expect(other).toMatchObject({ code: 'ALREADY_EXISTS', details: expect.stringMatching(/already recorded for entity .* by Kunming/) });
  });

  it('revokes from a CA-signed CRL imported at Nanning, at every city', async () => {
    const { cities } = await alliance();
    const [kunming, guiyang, nanning] = cities as [City, City, City];
    await recordLeaf(kunming);
    await replicated(guiyang, kunming, 1);
    const crl = crlDer(opensslCrl(pki.dir, 'api-crl', pki.intermediate, [{ cert: pki.leaf.cert, reason: 'keyCompromise' }]));
    const imported = await nanning.domain.importCrl({ crlDer: Buffer.from(crl), issuerChainDer: [Buffer.from(intermediateDer)] });
    expect(imported).toMatchObject({ issuer: 'C=CN, O=Tongxing Test, CN=Test Intermediate CA', revoked: 1 });
    const foreign = await refusal(nanning.domain.importCrl({ crlDer: Buffer.from(crl), issuerChainDer: [] }));
    expect(foreign.details).toMatch(/^crl\.crlDer: CRL issuer .* is neither a trusted root nor in the given issuer chain/);
    await replicated(guiyang, nanning, 1);
    const leaf = parseCertificate(leafDer);
    const state = await guiyang.domain.getCertificate({ issuerNameHash: leaf.issuerNameHash, serialNumber: serialNumberKey(leaf.serialNumber), atMs: BigInt(Date.now() + 60_000) });
    expect(state).toMatchObject({ found: true, status: LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_REVOKED, revocations: [{ fromCrl: true, provenance: { authorCity: 'Nanning' } }] });
  });
});

describe('certificates used only for what they allow (RFC 5280 4.2.1.3, 4.2.1.9, 4.2.1.12)', () => {
  const caKey = generateKeyPair();
  const caName = { commonName: 'Usage Test Root CA' };
  const usageRoot = () => new Uint8Array(issueCertificate({ subject: caName, publicKey: caKey.publicKey, issuer: { name: caName, keyPair: caKey }, serialNumber: 1n, notBefore: new Date(Date.now() - dayMs), notAfter: new Date(Date.now() + 3650 * dayMs), ca: true }));
  /** A certificate of the in-process CA for a fresh key, and that key (the USB key). */
  const issued = (serialNumber: bigint, edit: Partial<IssueInput>) => {
    const key = generateKeyPair();
    const input: IssueInput = { subject: { commonName: `usage-${serialNumber}` }, publicKey: key.publicKey, issuer: { name: caName, keyPair: caKey }, serialNumber, notBefore: new Date(Date.now() - dayMs), notAfter: new Date(Date.now() + 30 * dayMs), ...edit };
    return { der: Buffer.from(issueCertificate(input)), key };
  };
  const recordOf = (der: Uint8Array) => ({ certificateDer: Buffer.from(der), holder: { $case: 'entityUscc' as const, value: uscc }, usccOverride: undefined, intermediatesDer: [] });

  it.each([
    ['a keyEncipherment-only leaf', { keyUsage: ['keyEncipherment'] }, /lacks digitalSignature.*RFC 5280 4\.2\.1\.3/],
    ['a leaf whose critical EKU allows only serverAuth', { extendedKeyUsage: { purposes: ['1.3.6.1.5.5.7.3.1'], critical: true } }, /allows neither clientAuth nor anyExtendedKeyUsage.*RFC 5280 4\.2\.1\.12/],
    ['a CA certificate', { ca: true, keyUsage: ['keyCertSign'] }, /is a CA certificate \(basicConstraints CA:TRUE\).*RFC 5280 4\.2\.1\.9/],
  ] as Array<[string, Partial<IssueInput>, RegExp]>)('refuses %s at recording and at login, naming the rule', async (_name, edit, rule) => {
    const root = usageRoot();
    const { cities } = await alliance({ policy: { ...openPolicy, trustedRoots: () => [rootDer, root] } });
    const [kunming, guiyang] = cities as [City, City, City];
    const { der, key } = issued(7n, edit);
    const refused = await refusal(kunming.domain.recordCertificate(recordOf(der)));
    expect(refused).toMatchObject({ code: 'INVALID_ARGUMENT', details: expect.stringMatching(new RegExp(`^record\\.certificateDer: .*${rule.source}`)) });
    expect(kunming.replica.logs().find((l) => l.nodeId === kunming.nodeId)!.storedSeq).toBe(0);

    // Written past the API's check (as an older node would have): the views refuse it, and so does a login elsewhere.
    await kunming.replica.write(certificateRecord(der, { uscc }));
    await replicated(guiyang, kunming, 1);
    const { challenge } = await guiyang.domain.issueChallenge();
    const answer = await guiyang.domain.verifyLogin({ challenge, certificateDer: der, signature: sign(key.privateKey, challenge, key.publicKey) });
    expect(answer).toMatchObject({ valid: false, outcome: LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_NOT_RECORDED, detail: expect.stringMatching(rule) });
  });

  it('refuses to record a certificate before its notBefore, as `cert verify` answers then, and records it from then on', async () => {
    const root = usageRoot();
    const { cities, clock } = await alliance({ policy: { ...openPolicy, trustedRoots: () => [rootDer, root] } });
    const [kunming] = cities as [City];
    const notBeforeMs = Math.ceil(clock.now / 1000) * 1000 + dayMs; // UTCTime holds whole seconds
    const { der } = issued(8n, { notBefore: new Date(notBeforeMs) });
    const early = await refusal(kunming.domain.recordCertificate(recordOf(der)));
    expect(early).toMatchObject({ code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^record\.certificateDer: certificate "CN=usage-8" is not yet valid \(notBefore .*\); recorded at/) });
    clock.now = notBeforeMs;
    expect((await kunming.domain.recordCertificate(recordOf(der))).certificate).toMatchObject({ subject: 'CN=usage-8' });
  });
});

describe('watch list (重点关注名单)', () => {
  it('alerts the member that put the subject on the list when it signs in anywhere', async () => {
    const { cities, clock } = await alliance();
    const [kunming, guiyang, nanning] = cities as [City, City, City];
    await recordLeaf(kunming);
    await nanning.api.issueSanction(watchSanction('NN-W-1', uscc, clock.now - dayMs));
    await replicated(guiyang, kunming, 1);
    await replicated(guiyang, nanning, 1);

    const answer = await login(guiyang, pki.leaf);
    expect(answer.valid).toBe(true);
    expect(answer.watch.map((w) => [w.sanction!.sanctionId, w.issued!.authorCity])).toEqual([['NN-W-1', 'Nanning']]);
    expect(answer.alerts).toEqual([expect.objectContaining({ authorCity: 'Guiyang' })]);

    await replicated(nanning, guiyang, 1);
    const alerts = await nanning.domain.listAlerts();
    expect(alerts.truncated).toBe(false);
    expect(alerts.alerts).toHaveLength(1);
    expect(alerts.alerts[0]).toMatchObject({ recorded: { authorCity: 'Guiyang' }, alert: { sanctionId: 'NN-W-1', subject: { id: { value: uscc } }, serialNumber: serialNumberKey(parseCertificate(leafDer).serialNumber) } });
    expect(Buffer.from(alerts.alerts[0]!.alert!.watcher).toString('hex')).toBe(nanning.nodeId);
    // Only the watcher's own alerts are listed.
    await replicated(kunming, guiyang, 1);
    expect((await kunming.domain.listAlerts()).alerts).toEqual([]);
    // Newest first.
    clock.now += 1000;
    await login(kunming, pki.leaf);
    await replicated(nanning, kunming, 2);
    expect((await nanning.domain.listAlerts()).alerts.map((a) => a.recorded!.authorCity)).toEqual(['Kunming', 'Guiyang']);
    expect((await nanning.domain.listAlerts(1)).truncated).toBe(true);
  });
});

describe('evidence bundles', () => {
  it('are signed by the answering node and verify offline with the members’ keys; a changed byte breaks them', async () => {
    const { cities, clock, members } = await alliance();
    const [kunming, guiyang] = cities as [City, City, City];
    await kunming.api.issueSanction(sanction('KM-1', uscc, clock.now - dayMs));
    await replicated(guiyang, kunming, 1);
    const answer = await guiyang.api.checkSanctions({ uscc, evidence: true });
    expect(answer.verdict).toBe(Verdict.VERDICT_RESTRICTED);
    expect(answer.evidence.length).toBeGreaterThan(0);
    const known = { allianceId, keyOf: (id: string) => members.find((m) => m.nodeId === id)?.publicKey, cityOf: (id: string) => members.find((m) => m.nodeId === id)?.city };
    const verdict = verifyEvidence(answer.evidence, known);
    expect(verdict).toMatchObject({ status: 'verified', nodeId: guiyang.nodeId, headsChecked: 1 });
    expect(verdict.body!.answer!.sanctions.map((s) => s.sanction!.sanctionId)).toEqual(['KM-1']);

    const bundle = EvidenceBundle.decode(answer.evidence);
    const flipped = Buffer.from(bundle.body);
    flipped[flipped.length - 3] = flipped[flipped.length - 3]! ^ 1;
    expect(verifyEvidence(EvidenceBundle.encode({ ...bundle, body: flipped }).finish(), known).status).toBe('invalid');
    // Without evidence asked for, none is made.
    expect((await guiyang.api.checkSanctions({ uscc })).evidence).toHaveLength(0);
  });

  it('are refused by a node without a signing key', async () => {
    const { cities } = await alliance({ signer: false });
    const error = await refusal(cities[0]!.api.checkSanctions({ uscc, evidence: true }));
    expect(error).toMatchObject({ code: 'FAILED_PRECONDITION', details: expect.stringMatching(/^evidence: /) });
  });
});

describe('import and export', () => {
  const entityItem = (code: string, name = `Company ${code.slice(8, 12)}`): ImportItem => ({ item: { $case: 'entity', value: profile(code, name) } });
  const sanctionItem = (issue: SanctionIssue): ImportItem => ({ item: { $case: 'sanction', value: issue } });

  it('validates every row first and writes nothing when any fails', async () => {
    const { cities } = await alliance();
    const [kunming] = cities as [City];
    const items = [entityItem(usccFor(1)), { item: { $case: 'entity', value: { ...profile(usccFor(2), 'x'), regionCode: '53' } } } as ImportItem, entityItem(usccFor(1))];
    const { report } = await kunming.domain.importRecords({ kind: TransferKind.TRANSFER_KIND_ENTITIES, items, dryRun: false });
    expect(report).toMatchObject({ written: false, created: 0 });
    expect(report!.errors).toEqual([
      { row: 1, field: 'profile.regionCode', reason: 'must be 6 digits (GB/T 2260)' },
      { row: 2, field: 'profile.uscc', reason: expect.stringMatching(/is also row 0/) },
    ]);
    expect(kunming.replica.logs().find((l) => l.nodeId === kunming.nodeId)!.storedSeq).toBe(0);
  });

  it('refuses rows this node may not write (another home node, a reused sanction id), writes all otherwise, and is idempotent', async () => {
    const { cities, clock } = await alliance();
    const [kunming, guiyang] = cities as [City, City, City];
    await guiyang.api.registerEntity(profile(usccFor(9), 'Guiyang Co.'));
    await kunming.api.issueSanction(sanction('KM-1', usccFor(9), clock.now));
    await replicated(kunming, guiyang, 1);
    const refused = await kunming.domain.importRecords({ kind: TransferKind.TRANSFER_KIND_ENTITIES, items: [entityItem(usccFor(8)), entityItem(usccFor(9))], dryRun: false });
    expect(refused.report!.errors).toEqual([{ row: 1, field: 'profile.uscc', reason: expect.stringMatching(/home node is Guiyang/) }]);
    const reused = await kunming.domain.importRecords({ kind: TransferKind.TRANSFER_KIND_SANCTIONS, items: [sanctionItem(sanction('KM-1', usccFor(7), clock.now))], dryRun: false });
    expect(reused.report!.errors).toEqual([{ row: 0, field: 'sanction.sanctionId', reason: expect.stringMatching(/already issued a different sanction/) }]);
    expect(kunming.replica.logs().find((l) => l.nodeId === kunming.nodeId)!.storedSeq).toBe(1);

    const dry = await kunming.domain.importRecords({ kind: TransferKind.TRANSFER_KIND_ENTITIES, items: [entityItem(usccFor(8))], dryRun: true });
    expect(dry.report).toMatchObject({ written: false, created: 1, errors: [] });
    const done = await kunming.domain.importRecords({ kind: TransferKind.TRANSFER_KIND_ENTITIES, items: [entityItem(usccFor(8)), entityItem(usccFor(6))], dryRun: false });
    expect(done.report).toMatchObject({ written: true, created: 2, first: { seq: 2n }, last: { seq: 3n } });
    const again = await kunming.domain.importRecords({ kind: TransferKind.TRANSFER_KIND_ENTITIES, items: [entityItem(usccFor(8)), entityItem(usccFor(6), 'Renamed Co.')], dryRun: false });
    expect(again.report).toMatchObject({ written: true, created: 0, updated: 1, unchanged: 1 });
    expect((await kunming.api.getEntity(usccFor(6))).profile!.legalName).toBe('Renamed Co.');
  });

  it('stages a large import in chunks, commits it at once, and exports it page by page', async () => {
    const { cities } = await alliance();
    const [kunming, guiyang] = cities as [City, City, City];
    const rows = Array.from({ length: 1200 }, (_, i) => entityItem(usccFor(10_000 + i)));
    let importId = '';
    for (let first = 0; first < rows.length; first += 400) {
      const staged = await kunming.domain.stageImport({ importId, kind: TransferKind.TRANSFER_KIND_ENTITIES, firstRow: first, items: rows.slice(first, first + 400) });
      expect(staged.errors).toEqual([]);
      importId = staged.importId;
    }
    const outOfOrder = await refusal(kunming.domain.stageImport({ importId, kind: TransferKind.TRANSFER_KIND_ENTITIES, firstRow: 5, items: [] }));
    expect(outOfOrder.details).toMatch(/^firstRow: 5, but 1200 rows are staged/);
    const committed = await kunming.domain.commitImport({ importId, rows: 1200, dryRun: false });
    expect(committed.report).toMatchObject({ written: true, created: 1200 });
    // Committing again answers the same report, and writes nothing more.
    expect((await kunming.domain.commitImport({ importId, rows: 1200, dryRun: false })).report).toEqual(committed.report);
    expect(await kunming.domain.getImport(importId)).toMatchObject({ state: ImportState.IMPORT_STATE_COMMITTED, rowsWritten: 1200 });
    expect(kunming.replica.logs().find((l) => l.nodeId === kunming.nodeId)!.storedSeq).toBe(1200);
    await replicated(guiyang, kunming, 1200);

    const exported: string[] = [];
    let pageToken = '';
    do {
      const page = await guiyang.domain.exportRecords({ kind: TransferKind.TRANSFER_KIND_ENTITIES, pageToken, limit: 250, ownOnly: false, includePersonal: false });
      exported.push(...page.entities.map((e) => e.profile!.uscc));
      expect(page.entities.every((e) => e.home!.authorCity === 'Kunming')).toBe(true);
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    expect(exported).toEqual(rows.map((r) => (r.item!.value as EntityProfile).uscc).sort());
    const own = await guiyang.domain.exportRecords({ kind: TransferKind.TRANSFER_KIND_ENTITIES, pageToken: '', limit: 10, ownOnly: true, includePersonal: false });
    expect(own.entities).toEqual([]);
  });
});
