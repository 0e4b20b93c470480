import { afterEach, describe, expect, it } from 'vitest';
import { Verdict } from '../../gen/tongxing/api/v1/api.js';
import type { EntityProfile, SanctionIssue, SanctionLift } from '../../gen/tongxing/records/v1/records.js';
import { generateKeyPair, nodeIdOf, type Sm2KeyPair } from '../../federation/crypto/sm2.js';
import { Membership, type Member } from '../../federation/membership.js';
import { Replica } from '../../federation/replica.js';
import { Bus } from '../../federation/testing/bus.js';
import { MemoryStore } from '../../federation/store/memory.js';
import { entityRegistration, sanctionIssue, sanctionLift, usccFor } from '../../federation/testing/records.js';
import { ApiError, connectApi, type ApiClient } from './client.js';
import { startTestApi } from '../access/testing.js';
import type { ApiServer } from './server.js';
import { Prng } from '../../federation/testing/prng.js';

// The client API over real grpc-js on 127.0.0.1, in front of Replicas on
// MemoryStores. Members talk through an in-process bus (announce delivers to
// every other replica, pulls and head exchanges call the peer directly); a
// member left off the bus is never heard from. Time is a shared fake clock.

const allianceId = Buffer.alloc(32, 0x5a);
const freshnessBudgetMs = 30_000;
const startMs = Date.UTC(2025, 5, 1, 2, 0, 0); // 2025-06-01 10:00 +08:00
const dayMs = 86_400_000;

class FakeClock {
  now = startMs;
  nowMs(): number {
    return this.now;
  }
}

interface TestNode {
  readonly nodeId: string;
  readonly city: string;
  readonly replica: Replica;
  readonly server: ApiServer;
  readonly api: ApiClient;
}

let cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  const pending = cleanups.reverse();
  cleanups = [];
  for (const cleanup of pending) await cleanup();
});

/** An alliance of the given cities; nodes are started for the first `started` of them, all on one bus. */
async function alliance(cities: string[], started = cities.length): Promise<{ nodes: TestNode[]; clock: FakeClock }> {
  const clock = new FakeClock();
  const keys: Sm2KeyPair[] = cities.map(() => generateKeyPair());
  const members: Member[] = cities.map((city, i) => ({
    nodeId: nodeIdOf(keys[i]!.publicKey),
    publicKey: keys[i]!.publicKey,
    city,
    regionCode: ['530100', '520100', '450100'][i] ?? '510100',
    endpoints: [],
  }));
  const bus = new Bus();
  const nodes: TestNode[] = [];
  for (const [i, city] of cities.slice(0, started).entries()) {
    const nodeId = members[i]!.nodeId;
    const replica = await Replica.open(
      { allianceId, keyPair: keys[i]!, members: new Membership(members) },
      { store: new MemoryStore(), transport: bus.transport(nodeId), clock, random: new Prng('test').random() },
    );
    bus.replicas.set(nodeId, replica);
    cleanups.push(() => replica.close());
    const server = await startTestApi({ replica, clock, freshnessBudgetMs, city, allianceId, startedAtMs: clock.nowMs() },
    );
    cleanups.push(() => server.stop());
    const api = connectApi(`127.0.0.1:${server.port}`);
    cleanups.push(() => api.close());
    nodes.push({ nodeId, city, replica, server, api });
  }
  return { nodes, clock };
}

/** Lets background ingest run until `done` holds (bounded, so a bug fails instead of hanging). */
async function settle(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
  expect(done()).toBe(true);
}

const storedSeqOf = (at: TestNode, author: TestNode): number => at.replica.logs().find((l) => l.nodeId === author.nodeId)!.storedSeq;

function profileOf(uscc: string, legalName?: string): EntityProfile {
  const kind = entityRegistration(uscc, legalName).kind!;
  if (kind.$case !== 'entityRegistration') throw new Error('sample is a registration');
  return kind.value.profile!;
}

function issueOf(id: string, uscc: string, fromMs = startMs - 30 * dayMs): SanctionIssue {
  const kind = sanctionIssue(id, uscc, fromMs).kind!;
  if (kind.$case !== 'sanctionIssue') throw new Error('sample is an issue');
  return kind.value;
}

function liftOf(id: string, effectiveAtMs = 0): SanctionLift {
  const kind = sanctionLift(id, 1).kind!;
  if (kind.$case !== 'sanctionLift') throw new Error('sample is a lift');
  return { ...kind.value, effectiveAtMs: BigInt(effectiveAtMs) };
}

/** The ApiError a call rejects with. */
async function refusal(call: Promise<unknown>): Promise<ApiError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

describe('EntityService', () => {
  it('registers an entity at its home node and shows it', async () => {
    const { nodes } = await alliance(['Kunming']);
    const [kunming] = nodes as [TestNode];
    const uscc = usccFor(1);

    const registered = await kunming.api.registerEntity(profileOf(uscc, 'Dianchi Construction Co.'));
    expect(registered.provenance).toMatchObject({ authorCity: 'Kunming', seq: 1n });
    expect(registered.provenance!.author.toString('hex')).toBe(kunming.nodeId);

    const shown = await kunming.api.getEntity(uscc);
    expect(shown.found).toBe(true);
    expect(shown.profile!.legalName).toBe('Dianchi Construction Co.');
    expect(shown.home).toEqual(registered.provenance);
    expect(shown.latest).toEqual(registered.provenance);
    expect(shown.observations).toEqual([]);

    const unknown = await kunming.api.getEntity(usccFor(2));
    expect(unknown).toMatchObject({ found: false, observations: [] });
  });

  it('refuses to register an entity whose home node is another member', async () => {
    const { nodes } = await alliance(['Kunming', 'Guiyang']);
    const [kunming, guiyang] = nodes as [TestNode, TestNode];
    const uscc = usccFor(7);
    await kunming.api.registerEntity(profileOf(uscc));
    await settle(() => storedSeqOf(guiyang, kunming) === 1);

    const error = await refusal(guiyang.api.registerEntity(profileOf(uscc)));
    expect(error.code).toBe('ALREADY_EXISTS');
    expect(error.details).toMatch(/^profile\.uscc: .*home node is Kunming/);
    expect(storedSeqOf(guiyang, guiyang)).toBe(0);
  });

  it('answers a retried registration with the original provenance, and refuses a different profile', async () => {
    const { nodes } = await alliance(['Kunming']);
    const [kunming] = nodes as [TestNode];
    const uscc = usccFor(8);
    const first = await kunming.api.registerEntity(profileOf(uscc, 'First Name Co.'));

    expect(await kunming.api.registerEntity(profileOf(uscc, 'First Name Co.'))).toEqual(first);
    const error = await refusal(kunming.api.registerEntity(profileOf(uscc, 'Other Name Co.')));
    expect(error.code).toBe('ALREADY_EXISTS');
    expect(error.details).toMatch(/already registered at this node/);
    expect(storedSeqOf(kunming, kunming)).toBe(1);
  });

  it('updates an entity at its home node only: the new profile everywhere, a repeat writes nothing, unknown and foreign codes refused', async () => {
    const { nodes } = await alliance(['Kunming', 'Guiyang']);
    const [kunming, guiyang] = nodes as [TestNode, TestNode];
    const uscc = usccFor(9);
    const registered = await kunming.api.registerEntity(profileOf(uscc, 'First Name Co.'));
    const refused = await refusal(kunming.api.registerEntity(profileOf(uscc, 'Second Name Co.')));
    expect(refused.details).toMatch(/change its profile with UpdateEntity \(tongxing entity update\)/);

    const updated = await kunming.api.updateEntity(profileOf(uscc, 'Second Name Co.'));
    expect(updated.provenance!.seq).toBe(registered.provenance!.seq + 1n);
    expect(await kunming.api.updateEntity(profileOf(uscc, 'Second Name Co.'))).toEqual(updated);
    expect(storedSeqOf(kunming, kunming)).toBe(2);
    await settle(() => storedSeqOf(guiyang, kunming) === 2);
    const seen = await guiyang.api.getEntity(uscc);
    expect(seen.profile!.legalName).toBe('Second Name Co.');
    expect(seen.latest).toEqual(updated.provenance);
    expect(seen.home).toEqual(registered.provenance);

    const elsewhere = await refusal(guiyang.api.updateEntity(profileOf(uscc, 'Third Name Co.')));
    expect(elsewhere.code).toBe('FAILED_PRECONDITION');
    expect(elsewhere.details).toMatch(/^profile\.uscc: .*home node is Kunming/);
    const unknown = await refusal(kunming.api.updateEntity(profileOf(usccFor(10))));
    expect(unknown.code).toBe('NOT_FOUND');
    expect(unknown.details).toMatch(/^profile\.uscc: .* is not registered at any member/);
    const invalid = await refusal(kunming.api.updateEntity({ ...profileOf(uscc), legalName: '' }));
    expect(invalid.details).toBe('profile.legalName: missing');
    expect(storedSeqOf(guiyang, guiyang)).toBe(0);
    expect(storedSeqOf(kunming, kunming)).toBe(2);
  });

  it('refuses invalid input with INVALID_ARGUMENT naming the field', async () => {
    const { nodes } = await alliance(['Kunming']);
    const [kunming] = nodes as [TestNode];

    const badCheck = await refusal(kunming.api.registerEntity(profileOf('91350100M000100Y44')));
    expect(badCheck.code).toBe('INVALID_ARGUMENT');
    expect(badCheck.details).toMatch(/^profile\.uscc: check character \(position 18\) is '4', expected '3'/);

    const noName = await refusal(kunming.api.registerEntity({ ...profileOf(usccFor(3)), legalName: '' }));
    expect(noName.details).toBe('profile.legalName: missing');

    const noProfile = await refusal(kunming.api.registerEntity(undefined as unknown as EntityProfile));
    expect(noProfile.details).toBe('profile: missing');

    const badLookup = await refusal(kunming.api.getEntity('not-a-code'));
    expect(badLookup.code).toBe('INVALID_ARGUMENT');
    expect(badLookup.details).toMatch(/^uscc: /);
    expect(storedSeqOf(kunming, kunming)).toBe(0);
  });
});

describe('SanctionService', () => {
  it('issues, checks, lifts and checks again; as-of checks still see the lifted sanction', async () => {
    const { nodes, clock } = await alliance(['Kunming']);
    const [kunming] = nodes as [TestNode];
    const uscc = usccFor(11);

    const before = await kunming.api.checkSanctions(uscc); // a bare USCC: checked now
    expect(before.verdict).toBe(Verdict.VERDICT_CLEAR);
    expect(before.sanctions).toEqual([]);
    expect(before.atMs).toBe(BigInt(startMs));
    expect(before.freshnessBudgetMs).toBe(BigInt(freshnessBudgetMs));

    const issued = await kunming.api.issueSanction(issueOf('KM-2025-001', uscc));
    expect(issued.provenance).toMatchObject({ authorCity: 'Kunming', seq: 1n });

    const restricted = await kunming.api.checkSanctions({ uscc });
    expect(restricted.verdict).toBe(Verdict.VERDICT_RESTRICTED);
    expect(restricted.sanctions).toHaveLength(1);
    expect(restricted.sanctions[0]!.sanction!.sanctionId).toBe('KM-2025-001');
    expect(restricted.sanctions[0]!.issued).toEqual(issued.provenance);
    expect(restricted.sanctions[0]!.quarantined).toBe(false);

    const duplicate = await refusal(kunming.api.issueSanction(issueOf('KM-2025-001', usccFor(12))));
    expect(duplicate.code).toBe('ALREADY_EXISTS');
    expect(duplicate.details).toMatch(/^sanction\.sanctionId: /);

    clock.now += 1000;
    const liftedAtMs = clock.now;
    const lifted = await kunming.api.liftSanction(liftOf('KM-2025-001'));
    expect(lifted.provenance).toMatchObject({ authorCity: 'Kunming', seq: 2n });

    const after = await kunming.api.checkSanctions({ uscc });
    expect(after.verdict).toBe(Verdict.VERDICT_CLEAR);
    const asOfBefore = await kunming.api.checkSanctions({ uscc, atMs: BigInt(liftedAtMs - 1) });
    expect(asOfBefore.verdict).toBe(Verdict.VERDICT_RESTRICTED);
    expect(asOfBefore.atMs).toBe(BigInt(liftedAtMs - 1));

    const again = await refusal(kunming.api.liftSanction(liftOf('KM-2025-001')));
    expect(again.code).toBe('FAILED_PRECONDITION');
  });

  it('refuses to lift a sanction this node did not issue', async () => {
    const { nodes } = await alliance(['Kunming', 'Guiyang']);
    const [kunming, guiyang] = nodes as [TestNode, TestNode];

    const unknown = await refusal(kunming.api.liftSanction(liftOf('NO-SUCH-ID')));
    expect(unknown.code).toBe('NOT_FOUND');
    expect(unknown.details).toMatch(/^lift\.sanctionId: this node issued no sanction/);

    // Guiyang holds Kunming's sanction, but only its issuer lifts it.
    await kunming.api.issueSanction(issueOf('KM-7', usccFor(13)));
    await settle(() => storedSeqOf(guiyang, kunming) === 1);
    const notIssuer = await refusal(guiyang.api.liftSanction(liftOf('KM-7')));
    expect(notIssuer.code).toBe('NOT_FOUND');
    expect(storedSeqOf(guiyang, guiyang)).toBe(0);
  });

  it('reports every member’s sanctions with the issuer city', async () => {
    const { nodes, clock } = await alliance(['Kunming', 'Guiyang']);
    const [kunming, guiyang] = nodes as [TestNode, TestNode];
    const uscc = usccFor(21);
    await guiyang.api.issueSanction(issueOf('GY-1', uscc));
    kunming.replica.beacon();
    await settle(() => storedSeqOf(kunming, guiyang) === 1);
    clock.now += 1200;

    const check = await kunming.api.checkSanctions({ uscc });
    expect(check.verdict).toBe(Verdict.VERDICT_RESTRICTED);
    expect(check.sanctions.map((s) => [s.sanction!.sanctionId, s.issued!.authorCity])).toEqual([['GY-1', 'Guiyang']]);
    const freshness = Object.fromEntries(check.freshness.map((f) => [f.city, { seq: f.seq, ageMs: f.ageMs, stale: f.stale }]));
    expect(freshness).toEqual({
      Kunming: { seq: 0n, ageMs: 0n, stale: false },
      Guiyang: { seq: 1n, ageMs: 1200n, stale: false },
    });
  });

  it('fails closed: a member never heard from makes the answer unknown-stale', async () => {
    const { nodes } = await alliance(['Kunming', 'Guiyang'], 1);
    const [kunming] = nodes as [TestNode];

    const check = await kunming.api.checkSanctions({ uscc: usccFor(31) });
    expect(check.verdict).toBe(Verdict.VERDICT_UNKNOWN_STALE);
    expect(check.sanctions).toEqual([]);
    const guiyang = check.freshness.find((f) => f.city === 'Guiyang')!;
    expect(guiyang).toMatchObject({ seq: 0n, ageMs: -1n, stale: true });
    expect(guiyang.nodeId).toHaveLength(32);
    expect(check.freshness.find((f) => f.city === 'Kunming')).toMatchObject({ stale: false });
  });

  it('turns unknown-stale once a member’s newest head is older than the budget', async () => {
    const { nodes, clock } = await alliance(['Kunming', 'Guiyang']);
    const [kunming, guiyang] = nodes as [TestNode, TestNode];
    const uscc = usccFor(32);
    guiyang.replica.beacon();
    await kunming.replica.antiEntropyRound(); // beacons travel in head vectors
    await settle(() => kunming.replica.logs().some((l) => l.nodeId === guiyang.nodeId && l.signedAtMs !== undefined));

    expect((await kunming.api.checkSanctions({ uscc })).verdict).toBe(Verdict.VERDICT_CLEAR);
    clock.now += freshnessBudgetMs + 1;
    const stale = await kunming.api.checkSanctions({ uscc });
    expect(stale.verdict).toBe(Verdict.VERDICT_UNKNOWN_STALE);
    expect(stale.freshness.find((f) => f.city === 'Guiyang')).toMatchObject({ ageMs: BigInt(freshnessBudgetMs + 1), stale: true });
  });

  it('checks the subject: exactly one of uscc and expertRef, in a valid format', async () => {
    const { nodes } = await alliance(['Kunming']);
    const [kunming] = nodes as [TestNode];

    const invalid = await refusal(kunming.api.checkSanctions({ uscc: '91350100M000100Y4' }));
    expect(invalid.code).toBe('INVALID_ARGUMENT');
    expect(invalid.details).toMatch(/^uscc: has 17 characters/);
    // A legacy code failing only its check character may be sanctioned with an override, so it is checked.
    expect((await kunming.api.checkSanctions({ uscc: '91350100M000100Y44' })).verdict).toBe(Verdict.VERDICT_CLEAR);
    expect(invalid.message).toMatch(/^node at 127\.0\.0\.1:\d+: INVALID_ARGUMENT: uscc: /);

    const lower = await refusal(kunming.api.checkSanctions({ uscc: '91350100m000100y43' }));
    expect(lower.details).toMatch(/^uscc: lowercase letter at position 9/);

    expect((await refusal(kunming.api.checkSanctions({}))).details).toMatch(/^uscc: missing/);
    const both = await refusal(kunming.api.checkSanctions({ uscc: usccFor(1), expertRef: 'km.e-000123' }));
    expect(both.details).toMatch(/^expertRef: set exactly one/);
    const personal = await refusal(kunming.api.checkSanctions({ expertRef: '13800138000' }));
    expect(personal.details).toMatch(/^expertRef: looks like an ID card or phone number/);
    const negative = await refusal(kunming.api.checkSanctions({ uscc: usccFor(1), atMs: -5n }));
    expect(negative.details).toMatch(/^atMs: -5 is before 1970/);

    expect((await kunming.api.checkSanctions({ expertRef: 'km.e-000123' })).verdict).toBe(Verdict.VERDICT_CLEAR);
  });

  it('refuses an invalid sanction naming the field, and writes nothing', async () => {
    const { nodes } = await alliance(['Kunming']);
    const [kunming] = nodes as [TestNode];
    const issue = issueOf('KM-9', usccFor(41));

    const noPeriod = await refusal(kunming.api.issueSanction({ ...issue, restrictionPeriod: undefined }));
    expect(noPeriod.code).toBe('INVALID_ARGUMENT');
    expect(noPeriod.details).toBe('sanction.restrictionPeriod: missing');
    const badSubject = await refusal(kunming.api.issueSanction({ ...issue, subject: { id: { $case: 'uscc', value: 'ABC' }, name: 'x' } }));
    expect(badSubject.details).toMatch(/^sanction\.subject\.uscc: /);
    const noExplanation = await refusal(kunming.api.liftSanction({ ...liftOf('KM-9'), explanation: '' }));
    expect(noExplanation.details).toBe('lift.explanation: missing');
    expect(storedSeqOf(kunming, kunming)).toBe(0);
  });
});

describe('NodeService', () => {
  it('reports members, seqs, head ages, contact, entries stored and uptime', async () => {
    const { nodes, clock } = await alliance(['Kunming', 'Guiyang', 'Nanning'], 2);
    const [kunming, guiyang] = nodes as [TestNode, TestNode];
    await kunming.api.registerEntity(profileOf(usccFor(51)));
    await guiyang.api.registerEntity(profileOf(usccFor(52)));
    await guiyang.api.registerEntity(profileOf(usccFor(53)));
    await settle(() => storedSeqOf(kunming, guiyang) === 2);
    await kunming.replica.antiEntropyRound(); // random.int() = 0 picks Guiyang: a contact
    clock.now += 2500;

    const status = await kunming.api.getStatus();
    expect(status.nodeId.toString('hex')).toBe(kunming.nodeId);
    expect(status.city).toBe('Kunming');
    expect(status.allianceId).toEqual(allianceId);
    expect(status.entriesStored).toBe(3n);
    expect(status.uptimeMs).toBe(2500n);
    const byCity = Object.fromEntries(status.members.map((m) => [m.city, m]));
    expect(Object.keys(byCity).sort()).toEqual(['Guiyang', 'Kunming', 'Nanning']);
    expect(byCity.Kunming).toMatchObject({ self: true, storedSeq: 1n, knownSeq: 1n, headAgeMs: 2500n, lastContactMs: 0n, equivocated: false, regionCode: '530100' });
    expect(byCity.Guiyang).toMatchObject({ self: false, storedSeq: 2n, knownSeq: 2n, headAgeMs: 2500n, lastContactMs: BigInt(startMs), equivocated: false });
    expect(byCity.Nanning).toMatchObject({ self: false, storedSeq: 0n, knownSeq: 0n, headAgeMs: -1n, lastContactMs: 0n, equivocated: false });
  });

  it('turns an unreachable node into UNAVAILABLE, and stops idempotently', async () => {
    const { nodes } = await alliance(['Kunming']);
    const [kunming] = nodes as [TestNode];
    await kunming.server.stop();
    await kunming.server.stop();
    const error = await refusal(kunming.api.getStatus());
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toMatch(/^node at 127\.0\.0\.1:\d+: UNAVAILABLE: /);
  });
});
