import { Prng } from '../testing/prng.js';
import { describe, expect, it } from 'vitest';
import { ListType, MemberRole, type GenesisBody, type GovernanceProposal, type Record } from '../../gen/tongxing/records/v1/records.js';
import { generateKeyPair, sign, type Sm2KeyPair } from '../crypto/sm2.js';
import { Membership } from '../membership.js';
import { checkSanctions, getEntity } from '../queries.js';
import { Replica } from '../replica.js';
import { Bus } from '../testing/bus.js';
import { MemoryStore } from '../store/memory.js';
import { entityRegistration, sanctionIssue, sanctionLift, usccFor } from '../testing/records.js';
import { decodeView } from '../views/provenance.js';
import { rejectionKey } from '../views/apply.js';
import { keyRotation } from './genesis.js';
import { signSnapshot, verifySnapshot, type VerifiedSnapshot } from './snapshot.js';
import { computeGovernance } from './state.js';
import { admission, signedGenesis, testCity, type TestCity } from './testing.js';

// Replicas of a governed alliance, in-process: the genesis and the governance
// records in the logs decide membership, roles and keys on every replica alike.

const t0 = Date.UTC(2026, 10, 28);

async function governedAlliance(cities: TestCity[], founders: number, edit?: (body: GenesisBody) => void) {
  const { genesis, verified } = signedGenesis(cities.slice(0, founders), edit);
  const bus = new Bus();
  const replicas = bus.replicas;
  const stores = new Map<string, MemoryStore>();
  let now = t0;
  const clock = { nowMs: () => now };
  let turn = 0; // peers in turn: every reachable one is asked sooner or later
  const nonces = new Prng('governed replica nonces');
  const start = async (city: TestCity, nextKeyPair?: Sm2KeyPair, snapshot?: VerifiedSnapshot) => {
    const store = stores.get(city.nodeId) ?? new MemoryStore();
    stores.set(city.nodeId, store);
    const replica = await Replica.open(
      { allianceId: verified.allianceId, keyPair: city.keyPair, genesis: verified, members: new Membership([]), nextKeyPair, nodeId: city.nodeId, snapshot },
      { store, transport: bus.transport(city.nodeId), clock, random: { int: (n: number) => turn++ % n, bytes: (length: number) => nonces.bytes(length) }, ...(process.env.DEBUG_REPLICA ? { onEvent: (e: unknown) => console.log(city.city, JSON.stringify(e)) } : {}) },
    );
    replicas.set(city.nodeId, replica);
    return replica;
  };
  for (const city of cities.slice(0, founders)) await start(city);
  /** Anti-entropy with everyone until nothing moves. */
  const settle = async () => {
    for (let round = 0; round < 4; round++) {
      for (const replica of replicas.values()) for (let i = 0; i < replicas.size; i++) await replica.antiEntropyRound().catch(() => undefined);
    }
  };
  const at = (city: TestCity) => replicas.get(city.nodeId)!;
  const tick = (ms = 1000) => (now += ms);
  const proposeAndApprove = async (proposer: TestCity, approver: TestCity, action: GovernanceProposal['action']) => {
    const epoch = BigInt(at(proposer).governance!.current.number);
    const written = await at(proposer).write({ kind: { $case: 'governanceProposal', value: { epoch, reason: 'test', action } } });
    const [entry] = await at(proposer).store.entries(proposer.nodeId, written.seq, written.seq, 1);
    const { decodeEntry } = await import('../log/entry.js');
    const hash = decodeEntry(entry!.bytes).hash;
    await settle();
    tick();
    await at(approver).write({ kind: { $case: 'governanceApproval', value: { proposalHash: hash, epoch } } });
    await settle();
    tick();
  };
  return { genesis, verified, start, settle, at, tick, proposeAndApprove, replicas, now: () => now };
}

const rejection = async (replica: Replica, author: string, seq: number): Promise<string | undefined> =>
  decodeView<{ reason: string }>(await replica.store.getState(rejectionKey(author, seq)))?.reason;

describe('a governed alliance', () => {
  it('admits a fourth city by quorum: it catches up, and its records are accepted everywhere', async () => {
    const [km, gy, nn, cd] = [testCity('Kunming'), testCity('Guiyang'), testCity('Nanning'), testCity('Chengdu')];
    const a = await governedAlliance([km, gy, nn, cd], 3);
    await a.at(km).write(entityRegistration(usccFor(1)));
    await a.settle();

    const joining = await a.start(cd); // from the genesis alone: not a member yet
    await expect(joining.write(entityRegistration(usccFor(2)))).rejects.toThrow(/not yet admitted/);
    await joining.antiEntropyRound().catch(() => undefined);

    await a.proposeAndApprove(km, gy, admission(a.verified.allianceId, cd));
    for (const city of [km, gy, nn, cd]) expect(a.at(city).governance!.current.number, city.city).toBe(1);
    expect(await getEntity(joining, usccFor(1))).toBeDefined(); // caught up
    const written = await joining.write(entityRegistration(usccFor(2)));
    await a.settle();
    for (const city of [km, gy, nn]) {
      expect((await getEntity(a.at(city), usccFor(2)))?.home.author, city.city).toBe(cd.nodeId);
      expect(await rejection(a.at(city), cd.nodeId, written.seq)).toBeUndefined();
    }
  });

  it('a proposal short of quorum changes nothing', async () => {
    const [km, gy, nn] = [testCity('Kunming'), testCity('Guiyang'), testCity('Nanning')];
    const a = await governedAlliance([km, gy, nn], 3);
    await a.at(km).write({ kind: { $case: 'governanceProposal', value: { epoch: 0n, reason: 'test', action: { $case: 'removeMember', value: Buffer.from(nn.nodeId, 'hex') } } } });
    await a.settle();
    for (const city of [km, gy, nn]) expect(a.at(city).governance!.current.number).toBe(0);
    await a.at(nn).write(entityRegistration(usccFor(3)));
    await a.settle();
    expect(await getEntity(a.at(km), usccFor(3))).toBeDefined();
  });

  it('refuses a removed member: peer calls, and its entries after the removal, on every node', async () => {
    const [km, gy, nn] = [testCity('Kunming'), testCity('Guiyang'), testCity('Nanning')];
    const a = await governedAlliance([km, gy, nn], 3);
    await a.at(nn).write(entityRegistration(usccFor(4)));
    await a.settle();
    await a.proposeAndApprove(km, gy, { $case: 'removeMember', value: Buffer.from(nn.nodeId, 'hex') });
    await expect(a.at(km).handleExchangeHeads(nn.nodeId, { heads: [], proofs: [] })).rejects.toThrow(/Nanning .* is removed/);
    await expect(a.at(nn).write(entityRegistration(usccFor(5)))).rejects.toThrow(/this node is removed/);
    // Its records from before the removal stay.
    expect(await getEntity(a.at(gy), usccFor(4))).toBeDefined();
  });

  it('keeps a member\'s history valid across a key rotation, and accepts what it signs with the new key', async () => {
    const [km, gy, nn] = [testCity('Kunming'), testCity('Guiyang'), testCity('Nanning')];
    const a = await governedAlliance([km, gy, nn], 3);
    const next = generateKeyPair();
    // Guiyang's node holds its next key, and switches to it once governance applies the rotation.
    a.replicas.delete(gy.nodeId);
    await a.start(gy, next);
    await a.at(gy).write(entityRegistration(usccFor(6)));
    await a.settle();
    await a.proposeAndApprove(gy, km, { $case: 'rotateKey', value: keyRotation(Buffer.from(gy.nodeId, 'hex'), next) });
    expect(Buffer.from(a.at(km).members.get(gy.nodeId)!.publicKey).equals(next.publicKey)).toBe(true);
    await a.at(gy).write(entityRegistration(usccFor(7))); // signed with the new key
    await a.settle();
    // A fresh node verifies the whole history: old heads with the old key, new ones with the new key.
    const fresh = testCity('Chengdu');
    await a.proposeAndApprove(km, nn, admission(a.verified.allianceId, fresh));
    const late = await a.start(fresh);
    await a.settle();
    expect(await getEntity(late, usccFor(6))).toBeDefined();
    expect(await getEntity(late, usccFor(7))).toBeDefined();
  });

  it('rejects, on every node, a lift of another member\'s sanction and a record kind the author\'s role forbids', async () => {
    const [km, gy, nn] = [testCity('Kunming'), testCity('Guiyang'), testCity('Nanning', [MemberRole.MEMBER_ROLE_OBSERVER])];
    const a = await governedAlliance([km, gy, nn], 3);
    await a.at(km).write(sanctionIssue('KM-2026-001', usccFor(8), t0));
    await a.settle();
    const lift = await a.at(gy).write(sanctionLift('KM-2026-001', t0 + 1000));
    const register = await a.at(nn).write(entityRegistration(usccFor(9)));
    await a.settle();
    for (const city of [km, gy, nn]) {
      expect(await rejection(a.at(city), gy.nodeId, lift.seq), city.city).toMatch(/no sanction KM-2026-001 issued by this member to lift/);
      expect(await rejection(a.at(city), nn.nodeId, register.seq), city.city).toMatch(/Nanning .* has the role\(s\) observer at epoch 0: writing entityRegistration needs the city-center role/);
      expect(await getEntity(a.at(city), usccFor(9))).toBeUndefined();
    }
  });

  it('judges entries by the epoch at their hlc: a suspension rebuilds views to drop what came after it', async () => {
    const [km, gy, nn] = [testCity('Kunming'), testCity('Guiyang'), testCity('Nanning')];
    const a = await governedAlliance([km, gy, nn], 3);
    await a.proposeAndApprove(km, gy, { $case: 'changeRoles', value: { nodeId: Buffer.from(nn.nodeId, 'hex'), roles: [MemberRole.MEMBER_ROLE_OBSERVER] } });
    const record: Record = entityRegistration(usccFor(10));
    const written = await a.at(nn).write(record).catch((error: Error) => error);
    // Nanning may still write (it is an active member), but every node rejects the kind for its role.
    if (written instanceof Error) throw written;
    await a.settle();
    for (const city of [km, gy]) expect(await rejection(a.at(city), nn.nodeId, written.seq)).toMatch(/observer at epoch 1/);
  });

  it('enforces what the recognition policy covers, reports why, and honours an opt-out', async () => {
    const [km, gy, nn] = [testCity('Kunming'), testCity('Guiyang'), testCity('Nanning')];
    const a = await governedAlliance([km, gy, nn], 3, (body) => (body.recognition = { rules: [{ listType: ListType.LIST_TYPE_SERIOUS_DISHONESTY, grounds: [], minRestrictionMs: 0n }] }));
    const serious = sanctionIssue('KM-1', usccFor(11), t0);
    const bad = sanctionIssue('KM-2', usccFor(12), t0);
    if (serious.kind?.$case !== 'sanctionIssue' || bad.kind?.$case !== 'sanctionIssue') throw new Error('unreachable');
    serious.kind.value.listType = ListType.LIST_TYPE_SERIOUS_DISHONESTY;
    bad.kind.value.listType = ListType.LIST_TYPE_BAD_BEHAVIOUR;
    await a.at(km).write(serious);
    await a.at(km).write(bad);
    await a.settle();
    const check = (city: TestCity, n: number) => checkSanctions(a.at(city), `uscc:${usccFor(n)}`, t0 + 1000, t0 + 1000, 60_000);
    expect((await check(gy, 11)).sanctions[0]!.recognition).toEqual({ recognised: true, reason: expect.stringMatching(/rule 1/) });
    expect((await check(gy, 11)).verdict).toBe('restricted');
    const notCovered = await check(gy, 12);
    expect(notCovered.sanctions[0]!.recognition).toEqual({ recognised: false, reason: expect.stringMatching(/binds its issuer only/) });
    expect(notCovered.verdict).not.toBe('restricted');
    expect((await check(km, 12)).verdict).toBe('restricted'); // its issuer enforces it
    await a.at(nn).write({ kind: { $case: 'sanctionOptOut', value: { issuer: Buffer.from(km.nodeId, 'hex'), sanctionId: 'KM-1', reason: 'under appeal here', withdrawn: false } } });
    await a.settle();
    expect((await check(nn, 11)).sanctions[0]!.recognition).toEqual({ recognised: false, reason: 'this member opted out of it: under appeal here' });
    expect((await check(gy, 11)).verdict).toBe('restricted'); // an opt-out binds only its author
  });

  it('drops, on a node that applied it first, an entry made after its author\'s suspension once the suspension arrives', async () => {
    const [km, gy, nn] = [testCity('Kunming'), testCity('Guiyang'), testCity('Nanning')];
    const a = await governedAlliance([km, gy, nn], 3);
    const [kunming, nanning] = [a.at(km), a.at(nn)];
    const suspend = await kunming.write({ kind: { $case: 'governanceProposal', value: { epoch: 0n, reason: 'test', action: { $case: 'suspendMember', value: Buffer.from(nn.nodeId, 'hex') } } } });
    await a.settle();
    const [entry] = await kunming.store.entries(km.nodeId, suspend.seq, suspend.seq, 1);
    const { decodeEntry } = await import('../log/entry.js');
    // Guiyang approves while Kunming and Nanning hear nothing of it.
    a.replicas.delete(km.nodeId);
    a.replicas.delete(nn.nodeId);
    a.tick();
    await a.at(gy).write({ kind: { $case: 'governanceApproval', value: { proposalHash: decodeEntry(entry!.bytes).hash, epoch: 0n } } });
    a.replicas.set(km.nodeId, kunming);
    a.replicas.set(nn.nodeId, nanning);
    a.tick();
    // Nanning, unaware, registers an entity after its suspension took effect; Kunming applies it.
    await nanning.write(entityRegistration(usccFor(13)));
    await kunming.settled();
    expect((await getEntity(kunming, usccFor(13)))?.home.author).toBe(nn.nodeId);
    expect(kunming.governance!.current.number).toBe(0);
    // The approval arrives: the epoch opens before Nanning's entry, so Kunming rebuilds its views without it.
    await a.settle();
    expect(kunming.governance!.current.number).toBe(1);
    expect(await getEntity(kunming, usccFor(13))).toBeUndefined();
    expect(await getEntity(a.at(gy), usccFor(13))).toBeUndefined();
  });

  it('lets a new city start from a member\'s signed snapshot and reach members admitted after the genesis', async () => {
    const [km, gy, nn, cd, lz] = [testCity('Kunming'), testCity('Guiyang'), testCity('Nanning'), testCity('Chengdu'), testCity('Lanzhou')];
    const a = await governedAlliance([km, gy, nn, cd, lz], 3);
    await a.start(cd);
    await a.proposeAndApprove(km, gy, admission(a.verified.allianceId, cd));
    await a.proposeAndApprove(km, gy, admission(a.verified.allianceId, lz));
    await a.at(km).write(entityRegistration(usccFor(14)));
    await a.settle();
    const signed = signSnapshot(a.genesis, a.at(km).governance!, { nodeId: km.nodeId, sign: (m) => sign(km.keyPair.privateKey, m, km.keyPair.publicKey) }, a.now());
    // The founders' endpoints are gone: only Chengdu, admitted later, can be reached.
    for (const founder of [km, gy, nn]) a.replicas.delete(founder.nodeId);

    const fromGenesis = await a.start(lz);
    await a.settle();
    expect(fromGenesis.governance!.current.number).toBe(0); // it knows nobody it can reach
    await fromGenesis.close();
    a.replicas.delete(lz.nodeId);

    const fromSnapshot = await a.start(lz, undefined, verifySnapshot(signed));
    await a.settle();
    expect(fromSnapshot.governance!.current.number).toBe(2);
    expect(await getEntity(fromSnapshot, usccFor(14))).toBeDefined();
    await fromSnapshot.write(entityRegistration(usccFor(15)));
    await a.settle();
    expect((await getEntity(a.at(cd), usccFor(15)))?.home.author).toBe(lz.nodeId);
  });

  it('refuses a snapshot changed after signing, or signed by a non-member', () => {
    const [km, gy] = [testCity('Kunming'), testCity('Guiyang')];
    const { genesis, verified } = signedGenesis([km, gy]);
    const state = computeGovernance(verified, []);
    const signed = signSnapshot(genesis, state, { nodeId: km.nodeId, sign: (m) => sign(km.keyPair.privateKey, m, km.keyPair.publicKey) }, t0);
    expect(verifySnapshot(signed).members.map((m) => m.city)).toEqual(['Kunming', 'Guiyang']);
    const changed = Buffer.from(signed.snapshot);
    changed.writeUInt8(changed.readUInt8(changed.length - 40) ^ 1, changed.length - 40);
    expect(() => verifySnapshot({ ...signed, snapshot: changed })).toThrow(/does not verify|not a MembershipSnapshot|genesis/);
    const outsider = generateKeyPair();
    const forged = signSnapshot(genesis, state, { nodeId: 'ab'.repeat(32), sign: (m) => sign(outsider.privateKey, m, outsider.publicKey) }, t0);
    expect(() => verifySnapshot(forged)).toThrow(/is not an active member in it/);
  });
});
