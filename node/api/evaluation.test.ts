import { readFileSync } from 'node:fs';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuditVerdict, type ExpertPersonal } from '../../gen/tongxing/api/v1/experts.js';
import { Exclusion, LeaseOutcome, type EvaluationSession, type ExpertProfile, type Record } from '../../gen/tongxing/records/v1/records.js';
import { readPrivateKeyPem } from '../../federation/crypto/pem.js';
import { generateKeyPair, nodeIdOf, type Sm2KeyPair } from '../../federation/crypto/sm2.js';
import { makeTempDir, opensslIssue, type TempDir } from '../../federation/crypto/testing/openssl.js';
import { parseCertificate } from '../../federation/crypto/x509.js';
import { signScoreSheet } from '../../federation/experts/scores.js';
import { decodeEntry, decodeRecord } from '../../federation/log/entry.js';
import { Membership, type Member } from '../../federation/membership.js';
import { Replica } from '../../federation/replica.js';
import { Bus } from '../../federation/testing/bus.js';
import { MemoryStore } from '../../federation/store/memory.js';
import { evaluationSession, expertProfile, expertSanctionRecord, residentId, usccFor } from '../../federation/testing/records.js';
import { freePorts } from '../local-alliance.js';
import { CredentialVerifier } from '../peer/credential.js';
import { addEvaluationPeerService, EvaluationPeerClient, LeaseDesk } from '../peer/evaluation.js';
import { ApiError } from './client.js';
import { connectExperts, type ExpertsClient } from './experts-client.js';
import { startTestApi } from '../access/testing.js';
import { Prng } from '../../federation/testing/prng.js';

// Remote evaluation across three in-process members: Replicas on MemoryStores
// replicating through an in-process bus (as in api.test.ts), each with its
// client API and its EvaluationPeerService over real gRPC on 127.0.0.1, so
// lease requests travel with real call credentials. Kunming and Guiyang host
// sessions; the experts are homed at Nanning, which also audits.

const allianceId = Buffer.alloc(32, 0x6b);
const freshnessBudgetMs = 60_000;
const hourMs = 3_600_000;
const dayMs = 24 * hourMs;

class FakeClock {
  // Real time: the experts' certificates (openssl, valid from now) must be valid for the fake clock too.
  now = Date.now();
  nowMs(): number {
    return this.now;
  }
}

interface TestNode {
  readonly nodeId: string;
  readonly city: string;
  readonly replica: Replica;
  readonly api: ExpertsClient;
}

let cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  const pending = cleanups.reverse();
  cleanups = [];
  for (const cleanup of pending) await cleanup();
});

const cityTable: Array<[string, string]> = [
  ['Kunming', '530100'],
  ['Guiyang', '520100'],
  ['Nanning', '450100'],
  ['Chengdu', '510100'],
];

/** Members for the given cities; nodes (replica, API, peer service) for the first `started`. */
async function alliance(count: number, started = count): Promise<{ nodes: TestNode[]; clock: FakeClock }> {
  const clock = new FakeClock();
  const keys: Sm2KeyPair[] = Array.from({ length: count }, () => generateKeyPair());
  const ports = await freePorts(count);
  const members: Member[] = keys.map((key, i) => ({
    nodeId: nodeIdOf(key.publicKey),
    publicKey: key.publicKey,
    city: cityTable[i]![0],
    regionCode: cityTable[i]![1],
    endpoints: [`127.0.0.1:${ports[i]}`],
  }));
  const membership = new Membership(members);
  const bus = new Bus();
  const nodes: TestNode[] = [];
  for (let i = 0; i < started; i++) {
    const { nodeId, city } = members[i]!;
    const replica = await Replica.open({ allianceId, keyPair: keys[i]!, members: membership }, { store: new MemoryStore(), transport: bus.transport(nodeId), clock, random: new Prng('test').random() });
    bus.replicas.set(nodeId, replica);
    cleanups.push(() => replica.close());

    // What node.ts wires: one desk shared by the peer service and the client API.
    const desk = new LeaseDesk(replica);
    const peer = new Server();
    addEvaluationPeerService(peer, { desk, verifier: new CredentialVerifier({ allianceId, nodeId }, { members: membership, clock }) });
    await new Promise<number>((resolve, reject) => peer.bindAsync(`127.0.0.1:${ports[i]}`, ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    cleanups.push(() => new Promise<void>((resolve) => peer.tryShutdown(() => resolve())));
    const leaseClient = new EvaluationPeerClient({ allianceId, keyPair: keys[i]!, members: membership, clock });
    cleanups.push(() => leaseClient.close());

    const server = await startTestApi({ replica, clock, freshnessBudgetMs, city, allianceId, startedAtMs: clock.nowMs(), evaluation: { desk, leaseClient } },
    );
    cleanups.push(() => server.stop());
    const api = connectExperts(`127.0.0.1:${server.port}`);
    cleanups.push(() => api.close());
    nodes.push({ nodeId, city, replica, api });
  }
  return { nodes, clock };
}

/** Lets background ingest run until every started node stores every log to the same seq. */
async function settle(nodes: readonly TestNode[]): Promise<void> {
  const converged = () => {
    const tips = nodes.map((n) => JSON.stringify(n.replica.logs().map((l) => [l.nodeId, l.storedSeq])));
    return tips.every((t) => t === tips[0]);
  };
  for (let i = 0; i < 2000 && !converged(); i++) await new Promise((resolve) => setTimeout(resolve, 1));
  expect(converged()).toBe(true);
}

async function refusal(call: Promise<unknown>): Promise<ApiError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

let person = 0;
/** A person with a valid resident ID number (GB 11643 check character computed). */
function personal(name = `专家${++person}`): ExpertPersonal {
  return { idCardNumber: residentId('450102', '19800101', 100 + person), name, phone: `139${String(10_000_000 + person)}`, birthday: '', employerName: '广西建工集团' };
}

/** Registers an expert at `home` and makes it available around `slotFrom`; returns its ref. */
async function registerExpert(home: TestNode, slotFrom: number, profile: Partial<ExpertProfile> = {}): Promise<string> {
  const { expertRef } = await home.api.registerExpert(personal(), { ...expertProfile(''), regionCode: '450100', ...profile, expertRef: '' });
  await home.api.setAvailability({ expertRef, windows: [{ fromMs: BigInt(slotFrom - dayMs), untilMs: BigInt(slotFrom + dayMs) }] });
  return expertRef;
}

function sessionAt(slotFrom: number, sessionId: string, options: Parameters<typeof evaluationSession>[1] = {}): EvaluationSession {
  return evaluationSession(slotFrom, { sessionId, otherCitiesOnly: true, ...options });
}

describe('ExpertService', () => {
  it('keeps ID card, name, phone and birthday at the home node: the replicated bytes carry none of them', async () => {
    const { nodes } = await alliance(2);
    const [kunming, nanning] = [nodes[0]!, nodes[1]!];
    const who = personal('黄丽华');
    const profile = { ...expertProfile(''), regionCode: '520100' };
    const registered = await nanning.api.registerExpert(who, profile);
    expect(registered.expertRef).toMatch(/^e-[0-9a-f]{24}$/);
    expect(registered.alreadyRegistered).toBe(false);
    await settle(nodes);

    const shownElsewhere = await kunming.api.getExpert(registered.expertRef);
    expect(shownElsewhere.found).toBe(true);
    expect(shownElsewhere.profile!.regionCode).toBe('520100');
    expect((await refusal(kunming.api.getExpert(registered.expertRef, true))).code).toBe('FAILED_PRECONDITION');
    const atHome = await nanning.api.getExpert(registered.expertRef, true);
    expect(atHome.personal).toMatchObject({ idCardNumber: who.idCardNumber, name: '黄丽华', phone: who.phone, birthday: '1980-01-01' });

    // Every byte of the home node's log, as Kunming received it.
    const log = await kunming.replica.store.entries(nanning.nodeId, 1, 1000, 1000);
    expect(log.length).toBeGreaterThan(0);
    const bytes = Buffer.concat(log.map((e) => Buffer.from(e.bytes)));
    for (const secret of [who.idCardNumber, who.idCardNumber.slice(0, 17), '黄丽华', who.phone, '1980-01-01', '19800101', '广西建工集团']) {
      expect(bytes.includes(Buffer.from(secret, 'utf8')), secret).toBe(false);
    }

    // The same person again at the same node: the same ref, nothing new written.
    const again = await nanning.api.registerExpert(who, profile);
    expect(again).toMatchObject({ expertRef: registered.expertRef, alreadyRegistered: true });
    expect((await refusal(nanning.api.registerExpert(who, { ...profile, regionCode: '450100' }))).code).toBe('ALREADY_EXISTS');
  });

  it('names the field of bad input: ID card, unknown specialty code, a ref given by the caller', async () => {
    const { nodes } = await alliance(1);
    const api = nodes[0]!.api;
    const badId = await refusal(api.registerExpert({ ...personal(), idCardNumber: '450102198001011234' }, expertProfile('')));
    expect(badId.code).toBe('INVALID_ARGUMENT');
    expect(badId.details).toMatch(/^personal\.idCardNumber: check character/);
    const badCode = await refusal(api.registerExpert(personal(), expertProfile('', { specialties: ['A99'] })));
    expect(badCode.details).toMatch(/^profile\.specialtyCodes\[0\]: unknown specialty code "A99"/);
    const ref = await refusal(api.registerExpert(personal(), expertProfile('e-123')));
    expect(ref.details).toMatch(/^profile\.expertRef: leave empty/);
    const notHome = await refusal(api.setAvailability({ expertRef: 'e-000000000000000000000000', windows: [] }));
    expect(notHome.code).toBe('NOT_FOUND');
  });
});

describe('EvaluationService', () => {
  it('two cities draw the same experts at once: no expert is leased twice, refusals fall through, audits on a third node match', async () => {
    const { nodes, clock } = await alliance(3);
    const [kunming, guiyang, nanning] = [nodes[0]!, nodes[1]!, nodes[2]!];
    const slotFrom = clock.now + 7 * dayMs;
    const eligible: string[] = [];
    for (let i = 0; i < 4; i++) eligible.push(await registerExpert(nanning, slotFrom));
    const paused = await registerExpert(nanning, slotFrom, { status: 2 });
    const sanctioned = await registerExpert(nanning, slotFrom);
    const conflicted = await registerExpert(nanning, slotFrom, {
      employment: [{ employerUscc: usccFor(102), period: { fromMs: BigInt(Date.UTC(2015, 0, 1)), untilMs: 0n }, employerUsccOverride: undefined }],
    });
    await guiyang.replica.write(expertSanctionRecord('GY-2025-9', sanctioned, clock.now - dayMs) as Record);
    await kunming.api.createSession(sessionAt(slotFrom, 'KM-2025-0001'));
    await guiyang.api.createSession(sessionAt(slotFrom + hourMs, 'GY-2025-0001')); // overlapping slots
    await settle(nodes);

    const [km, gy] = await Promise.all([kunming.api.drawExperts('KM-2025-0001'), guiyang.api.drawExperts('GY-2025-0001')]);
    await settle(nodes);

    const granted = [...km.panel, ...gy.panel].map((s) => s.expertRef);
    expect(new Set(granted).size).toBe(granted.length); // never double-booked
    expect([...granted].sort()).toEqual([...eligible].sort()); // 4 experts for 6 seats: all of them used
    expect(km.panel.length + gy.panel.length).toBe(4);
    const attempts = [...km.attempts, ...gy.attempts].map((a) => a.outcome!);
    const refused = attempts.filter((o) => o.outcome === LeaseOutcome.LEASE_OUTCOME_REFUSED);
    expect(refused.length).toBeGreaterThan(0);
    for (const o of refused) expect(o.reason).toMatch(/already leased for an overlapping slot/);
    expect(km.complete || gy.complete || (km.panel.length === 2 && gy.panel.length === 2)).toBe(true);
    for (const ref of eligible) expect((await nanning.api.getExpert(ref)).leases).toHaveLength(1);

    // The draw says why the others were left out.
    const session = await nanning.api.getSession('KM-2025-0001');
    const excluded = new Map(session.draw!.orders[0]!.excluded.map((e) => [e.expertRef, e.reason]));
    expect(excluded.get(paused)).toBe(Exclusion.EXCLUSION_PAUSED);
    expect(excluded.get(sanctioned)).toBe(Exclusion.EXCLUSION_SANCTIONED);
    expect(excluded.get(conflicted)).toBe(Exclusion.EXCLUSION_AVOIDANCE);
    expect(session.attempts).toHaveLength(km.attempts.length);

    for (const [auditor, id] of [[nanning, 'KM-2025-0001'], [nanning, 'GY-2025-0001'], [guiyang, 'KM-2025-0001']] as const) {
      const audit = await auditor.api.auditDraw(id);
      expect(audit.verdict, `${auditor.city} audits ${id}: ${JSON.stringify(audit.checks)}`).toBe(AuditVerdict.AUDIT_VERDICT_MATCH);
      expect(audit.checks.map((c) => c.name)).toEqual([
        'seed commitment',
        'seed committed before the candidates',
        'basis available',
        'candidates and drawn order',
        'experts paused for low credit',
        'lease attempts follow the drawn order',
        'home node lease records',
      ]);
    }

    // Drawing again resumes (nothing left to ask) and answers the same panel.
    const again = await kunming.api.drawExperts('KM-2025-0001');
    expect(again.panel).toEqual(km.panel);
  });

  it('refuses bad sessions naming the field, and a draw while a member is silent (fails closed)', async () => {
    const { nodes, clock } = await alliance(2, 1);
    const kunming = nodes[0]!;
    const slotFrom = clock.now + dayMs;
    const past = await refusal(kunming.api.createSession(sessionAt(clock.now - hourMs, 'KM-1')));
    expect(past.details).toMatch(/^session\.window\.fromMs: .* is in the past/);
    const unknown = await refusal(kunming.api.createSession(sessionAt(slotFrom, 'KM-1', { requirements: [['C13', 1]] })));
    expect(unknown.details).toMatch(/^session\.requirements\[0\]\.specialtyCode: unknown specialty code "C13"/);
    const uscc = await refusal(kunming.api.createSession({ ...sessionAt(slotFrom, 'KM-1'), bidderUsccs: ['91530100MA6K0000X1'] }));
    expect(uscc.details).toMatch(/^session\.bidderUsccs\[0\]: /);
    await kunming.api.createSession(sessionAt(slotFrom, 'KM-1'));
    expect((await refusal(kunming.api.createSession(sessionAt(slotFrom, 'KM-1')))).code).toBe('ALREADY_EXISTS');
    const silent = await refusal(kunming.api.drawExperts('KM-1'));
    expect(silent.code).toBe('FAILED_PRECONDITION');
    expect(silent.details).toMatch(/Guiyang .* never heard .* freshness budget/);
  });
});

describe('scores and supervision analysis', () => {
  let dir: TempDir;
  const certificates: Array<{ key: Sm2KeyPair; der: Uint8Array }> = [];
  beforeAll(() => {
    dir = makeTempDir('tongxing-scores-');
    const ca = opensslIssue(dir, 'ca', { subject: '/C=CN/O=Tongxing Test/CN=Expert CA', profile: 'ca', days: 365 });
    for (let i = 0; i < 4; i++) {
      const issued = opensslIssue(dir, `expert-${i}`, { subject: `/C=CN/O=Tongxing Test/CN=expert-${i}`, profile: 'leaf', days: 30, issuer: ca });
      certificates.push({ key: readPrivateKeyPem(readFileSync(issued.key, 'utf8')), der: parseCertificate(readFileSync(issued.cert)).der });
    }
  });
  afterAll(() => dir.remove());

  it('experts sign their sheets; the host records them; analysis flags the outlier and the reverser', async () => {
    const { nodes, clock } = await alliance(2);
    const [kunming, nanning] = [nodes[0]!, nodes[1]!];
    const slotFrom = clock.now + dayMs;
    const refs: string[] = [];
    for (let i = 0; i < 4; i++) refs.push(await registerExpert(nanning, slotFrom));
    const bidders = [usccFor(101), usccFor(102), usccFor(103)];
    await kunming.api.createSession(sessionAt(slotFrom, 'KM-7', { requirements: [['A08', 4]], bidders }));
    await settle(nodes);
    const drawn = await kunming.api.drawExperts('KM-7');
    expect(drawn.complete).toBe(true);

    const table = [
      [90, 80, 70],
      [88, 82, 71],
      [89, 81, 40], // far below on the third bidder
      [80, 84, 70], // second above first, the others the other way round
    ];
    const host = Buffer.from(kunming.nodeId, 'hex');
    const sheetOf = (i: number, scores = table[i]!) =>
      signScoreSheet(
        { host, sessionId: 'KM-7', expertRef: refs[i]!, scores: bidders.map((b, j) => ({ bidderUscc: b, scoreHundredths: scores[j]! * 100 })), signedAtMs: BigInt(clock.now) },
        certificates[i]!.key,
        certificates[i]!.der,
      );

    // A signature by another key than the certificate's is refused, naming the field.
    const forged = { ...sheetOf(0), certificateDer: Buffer.from(certificates[1]!.der) };
    expect((await refusal(kunming.api.submitScores(forged))).details).toMatch(/^score\.signature: does not verify/);
    for (let i = 0; i < 4; i++) await kunming.api.submitScores(sheetOf(i));
    expect((await refusal(kunming.api.submitScores(sheetOf(0)))).code).toBe('ALREADY_EXISTS');
    const stranger = signScoreSheet({ host, sessionId: 'KM-7', expertRef: 'e-000000000000000000000000', scores: [], signedAtMs: BigInt(clock.now) }, certificates[0]!.key, certificates[0]!.der);
    expect((await refusal(kunming.api.submitScores(stranger))).code).toBe('INVALID_ARGUMENT'); // no scores at all
    await settle(nodes);

    // Any node analyses from its replica.
    const analysis = await nanning.api.analyzeScores({ sessionId: 'KM-7' });
    expect(analysis.bidders.map((b) => b.rank)).toEqual([1, 2, 3]);
    const byRef = new Map(analysis.experts.map((e) => [e.expertRef, e]));
    expect(byRef.get(refs[2]!)!.flagged).toBe(true);
    expect(byRef.get(refs[2]!)!.reasons.join()).toMatch(/scored .* 40 against a trimmed mean/);
    expect(byRef.get(refs[3]!)!.disagreements).toEqual([{ higherUscc: bidders[1], lowerUscc: bidders[0] }]);
    expect(byRef.get(refs[0]!)!.flagged).toBe(false);
    for (const e of analysis.experts) {
      expect(e.signatureValid).toBe(true);
      expect(e.certificateBinding).toMatch(/^unverified: no member has recorded this certificate/);
    }
  });
});

/** Lease records decoded from a home node's log, for debugging a failing run. */
export async function leaseLog(node: TestNode, author: string): Promise<string[]> {
  const entries = await node.replica.store.entries(author, 1, 10_000, 10_000);
  return entries.map((e) => decodeRecord(decodeEntry(e.bytes).entry)).filter((r) => r.kind?.$case === 'expertLease').map((r) => JSON.stringify(r.kind!.value));
}
