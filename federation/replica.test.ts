import { describe, expect, it } from 'vitest';
import { generateKeyPair, nodeIdOf, type Sm2KeyPair } from './crypto/sm2.js';
import { sm3 } from './crypto/sm3.js';
import { encodeEntry } from './log/entry.js';
import { signHead } from './log/head.js';
import { LogWriter } from './log/writer.js';
import { rejectionKey } from './views/apply.js';
import { Membership } from './membership.js';
import { checkSanctions, getEntity } from './queries.js';
import { FatalError } from './errors.js';
import { Replica, type ReplicaEvent } from './replica.js';
import { Prng } from './testing/prng.js';
import { Bus } from './testing/bus.js';
import { MemoryStore } from './store/memory.js';
import { entityRegistration, sanctionIssue, sanctionLift, usccFor } from './testing/records.js';

// Replicas wired in-process on the test Bus (it passes the same transport
// compliance suite as gRPC). Pure logic only.

const allianceId = sm3(Buffer.from('replica test alliance'));
const t0 = Date.UTC(2026, 10, 28);

async function alliance(count: number, options: { gossip?: boolean } = {}) {
  const keys = Array.from({ length: count }, () => generateKeyPair());
  const members = new Membership(keys.map((k, i) => ({ nodeId: nodeIdOf(k.publicKey), publicKey: k.publicKey, city: `City${i}`, regionCode: '530100', endpoints: [] })));
  const net = new Bus();
  net.gossip = options.gossip ?? true;
  let now = t0;
  const clock = { nowMs: () => now };
  let seed = 1; // mulberry32: deterministic peer choice
  const random = {
    int: (n: number) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
    },
    bytes: (length: number) => nonces.bytes(length),
  };
  const nonces = new Prng('replica test nonces');
  const stores = keys.map(() => new MemoryStore());
  const replicas: Replica[] = [];
  for (const [i, keyPair] of keys.entries()) {
    const nodeId = nodeIdOf(keyPair.publicKey);
    const onEvent = process.env.DEBUG_REPLICA ? (e: unknown) => console.log(i, JSON.stringify(e)) : undefined;
    const replica = await Replica.open({ allianceId, keyPair, members }, { store: stores[i]!, transport: net.transport(nodeId), clock, random, onEvent });
    net.replicas.set(nodeId, replica);
    replicas.push(replica);
  }
  // Every replica settled, until a pass finds nothing left anywhere (gossip may wake another replica).
  const settle = async () => {
    for (let pass = 0; pass < 3; pass++) await Promise.all([...net.replicas.values()].map((r) => r.settled()));
  };
  return { keys, members, net, replicas, stores, settle, advance: (ms: number) => (now += ms), clock };
}

const storedSeqs = (replica: Replica) => replica.logs().map((l) => l.storedSeq);

describe('replica', () => {
  it('spreads a sanction by gossip and every city enforces it', async () => {
    const { replicas, settle, clock } = await alliance(3);
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const uscc = usccFor(1);
    await a.write(entityRegistration(uscc));
    await b.write(sanctionIssue('S-1', uscc, t0 - 1000));
    await settle();
    for (const r of replicas) expect(storedSeqs(r)).toEqual(storedSeqs(a));
    const check = await checkSanctions(c, `uscc:${uscc}`, clock.nowMs(), clock.nowMs(), 60_000);
    expect(check.verdict).toBe('restricted');
    expect(check.sanctions.map((s) => [s.issue.sanctionId, s.issued.author])).toEqual([['S-1', b.nodeId]]);
    expect((await getEntity(c, uscc))?.home.author).toBe(a.nodeId);

    await b.write(sanctionLift('S-1', t0));
    await settle();
    expect((await checkSanctions(c, `uscc:${uscc}`, clock.nowMs(), clock.nowMs(), 60_000)).verdict).toBe('clear');
    // History is kept: as of before the lift it was restricted.
    expect((await checkSanctions(c, `uscc:${uscc}`, t0 - 1, clock.nowMs(), 60_000)).verdict).toBe('restricted');
  });

  it('converges by anti-entropy alone, across many batches', async () => {
    const { replicas, settle } = await alliance(3, { gossip: false });
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    for (let batch = 0; batch < 5; batch++) {
      await Promise.all(Array.from({ length: 700 }, (_, i) => a.write(entityRegistration(usccFor(batch * 1000 + i)))));
    }
    expect(storedSeqs(b)[0]).toBe(0);
    const behind = () => [b, c].some((r) => storedSeqs(r).some((s, i) => s !== storedSeqs(a)[i]));
    for (let round = 0; round < 20 && behind(); round++) {
      await b.antiEntropyRound();
      await c.antiEntropyRound();
      await settle();
    }
    expect(storedSeqs(b)).toEqual(storedSeqs(a));
    expect(storedSeqs(c)).toEqual(storedSeqs(a));
    expect(storedSeqs(a)[replicas.indexOf(a)]).toBe(3500);
  });

  it('tells a sanctions check that a silent member makes the answer stale', async () => {
    const { replicas, clock } = await alliance(2, { gossip: false });
    const check = await checkSanctions(replicas[0]!, `uscc:${usccFor(7)}`, clock.nowMs(), clock.nowMs(), 60_000);
    expect(check.verdict).toBe('unknown-stale');
    replicas[1]!.beacon();
    await replicas[0]!.antiEntropyRound();
    expect((await checkSanctions(replicas[0]!, `uscc:${usccFor(7)}`, clock.nowMs(), clock.nowMs(), 60_000)).verdict).toBe('clear');
  });

  it('detects an equivocating member, spreads the proof and quarantines it', async () => {
    const { replicas, keys, net, settle, clock, stores } = await alliance(3);
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const uscc = usccFor(3);
    await a.write(sanctionIssue('S-9', uscc, t0 - 1000));
    await settle();
    expect((await checkSanctions(c, `uscc:${uscc}`, clock.nowMs(), clock.nowMs(), 60_000)).verdict).toBe('restricted');

    // A signs a second, different history at seq 1 with the same key, and shows it to B only.
    const fork = new LogWriter(allianceId, keys[0] as Sm2KeyPair);
    fork.append(entityRegistration(usccFor(4)), t0);
    const forged = fork.seal(t0)!;
    net.gossip = false;
    const verdict = await b.receiveAnnouncement({ kind: { $case: 'head', value: { head: forged.head, entries: forged.entries.map((e) => Buffer.from(e.bytes)) } } });
    expect(verdict).toBe('ignore'); // not forwarded as news: B spreads the proof instead
    await settle();
    expect(b.isQuarantined(a.nodeId)).toBe(true);
    expect(c.isQuarantined(a.nodeId)).toBe(false);
    // The proof travels with head vectors; peers are drawn at random, so allow a few rounds.
    for (let round = 0; round < 20 && !c.isQuarantined(a.nodeId); round++) {
      await b.antiEntropyRound();
      await settle();
    }
    expect(c.isQuarantined(a.nodeId)).toBe(true);
    // The equivocator's records no longer count anywhere, whichever history a node had.
    for (const r of [b, c]) {
      const check = await checkSanctions(r, `uscc:${uscc}`, clock.nowMs(), clock.nowMs(), 60_000);
      expect(check.sanctions).toEqual([]);
    }
    expect(await stores[1]!.getState(`proof/${a.nodeId}`)).toBeDefined();
  });

  it('recovers its own log from peers after losing its store, instead of forking it', async () => {
    const { keys, members, replicas, settle, clock, net } = await alliance(2);
    const [a, b] = replicas as [Replica, Replica];
    for (let i = 0; i < 3; i++) await a.write(entityRegistration(usccFor(100 + i)));
    await settle();
    expect(storedSeqs(b)[0]).toBe(3);
    // A's data directory is lost: same key, empty store.
    const fresh = await Replica.open({ allianceId, keyPair: keys[0]!, members }, { store: new MemoryStore(), transport: net.transport(a.nodeId), clock, random: new Prng('test').random() });
    net.replicas.set(a.nodeId, fresh);
    await fresh.antiEntropyRound();
    await expect(fresh.write(entityRegistration(usccFor(200)))).rejects.toThrow(/own log is being recovered/);
    await settle();
    const written = await fresh.write(entityRegistration(usccFor(201)));
    expect(written.seq).toBe(4);
    await settle();
    expect(b.isQuarantined(a.nodeId)).toBe(false);
    expect(storedSeqs(b)[0]).toBe(4);
  });

  it('stores an authentic entry with an invalid record but leaves it out of the views, with the reason', async () => {
    const { keys, replicas, settle } = await alliance(2);
    const [a, b] = replicas as [Replica, Replica];
    // A member signs a record its own validation would have refused (a bad USCC check character).
    const bad = encodeEntry({ allianceId, author: Buffer.from(a.nodeId, 'hex'), seq: 1n, prev: Buffer.alloc(32), hlc: 1n, record: entityRegistration('91350100M000100Y44') });
    const head = signHead({ allianceId, author: Buffer.from(a.nodeId, 'hex'), seq: 1n, entryHash: bad.hash, hlc: 1n, signedAtMs: BigInt(t0) }, keys[0]!);
    expect(await b.receiveAnnouncement({ kind: { $case: 'head', value: { head, entries: [Buffer.from(bad.bytes)] } } })).toBe('accept');
    await settle();
    expect(storedSeqs(b)[0]).toBe(1);
    const rejection = await b.store.getState(rejectionKey(a.nodeId, 1));
    expect(Buffer.from(rejection!).toString()).toMatch(/uscc/);
    expect(await getEntity(b, '91350100M000100Y44')).toBeUndefined();
  });

  it('does not forward the announcement of a non-member (without blaming the relay), and rejects a tampered batch', async () => {
    const { replicas } = await alliance(2);
    const outsider = new LogWriter(allianceId, generateKeyPair());
    outsider.append(entityRegistration(usccFor(5)), t0);
    const sealed = outsider.seal(t0)!;
    const announce = (entries: Buffer[]) => replicas[0]!.receiveAnnouncement({ kind: { $case: 'head', value: { head: sealed.head, entries } } });
    // The relay may know of an admission this node has not applied yet: ignore, not reject.
    expect(await announce(sealed.entries.map((e) => Buffer.from(e.bytes)))).toBe('ignore');
    expect(await getEntity(replicas[0]!, usccFor(5))).toBeUndefined();

    const b = replicas[1]!;
    await b.write(entityRegistration(usccFor(6)));
    const head = (await b.store.latestHeads())[0]!;
    const [entry] = await b.store.entries(b.nodeId, 1, 1, 1);
    const tampered = Buffer.from(entry!.bytes);
    tampered[tampered.length - 2]! ^= 0x01;
    const verdict = await replicas[0]!.receiveAnnouncement({ kind: { $case: 'head', value: { head, entries: [tampered] } } });
    expect(verdict).toBe('reject');
  });

  it('stops on a store failure with the reason, and never blames the peer whose data it was storing', async () => {
    const { keys, members, replicas, net, clock } = await alliance(2);
    const a = replicas[0]!;
    // B's disk fills up: every commit fails.
    const store = new MemoryStore();
    store.commit = () => Promise.reject(new Error('ENOSPC: no space left on device'));
    const events: ReplicaEvent[] = [];
    const fatal: FatalError[] = [];
    const b = await Replica.open(
      { allianceId, keyPair: keys[1]!, members },
      { store, transport: net.transport(replicas[1]!.nodeId), clock, random: new Prng('fatal').random(), onEvent: (e) => events.push(e), onFatal: (e) => fatal.push(e) },
    );
    net.replicas.set(b.nodeId, b);
    await a.write(entityRegistration(usccFor(300))); // gossiped to B, whose commit of it fails
    await b.settled();
    expect(fatal.map((e) => e.message)).toEqual(['the store failed: ENOSPC: no space left on device']);
    expect(events.filter((e) => e.type === 'rejected')).toEqual([]);
    // Nothing more is accepted: a local write rejects with the same reason.
    await expect(b.write(entityRegistration(usccFor(301)))).rejects.toThrow(FatalError);
  });
});
