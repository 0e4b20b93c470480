import { describe, expect, it } from 'vitest';
import type { Announcement } from '../../gen/tongxing/federation/v1/peer.js';
import { nodeIdOf, keyPairFromPrivateKey, type Sm2KeyPair } from '../crypto/sm2.js';
import { sm3 } from '../crypto/sm3.js';
import { AssertionError, MembershipError, UnavailableError, ValidationError } from '../errors.js';
import { LogWriter } from '../log/writer.js';
import type { Member } from '../membership.js';
import { proofKey, viewsRebuildKey } from '../store/state-keys.js';
import { Prng } from '../testing/prng.js';
import { entityRegistration, usccFor } from '../testing/records.js';
import { openPolicy } from '../views/policy.js';
import { ReplicaCore } from './core.js';
import type { Ready } from './ready.js';

// The core alone, driven by its inputs and Readys: no store, no transport, no
// timers. Each test plays the driver's part by hand (commit what the Ready
// says, then advance), so the contract in ready.ts is what is checked.

const allianceId = sm3(Buffer.from('replica core test alliance'));
const t0 = Date.UTC(2026, 11, 2);
const seed = 'replica-core';
console.log(`replica core tests: seed ${seed}`);

function keyOf(name: string): Sm2KeyPair {
  const d = sm3(Buffer.from(`core test key ${name}`));
  return keyPairFromPrivateKey(d);
}

const keys = { a: keyOf('a'), b: keyOf('b'), c: keyOf('c') };
const members: Member[] = Object.entries(keys).map(([city, k]) => ({ nodeId: nodeIdOf(k.publicKey), publicKey: k.publicKey, city, regionCode: '530100', endpoints: [] }));
const id = (k: Sm2KeyPair) => nodeIdOf(k.publicKey);

function core(keyPair: Sm2KeyPair, options: { nowMs?: () => number } = {}): ReplicaCore {
  const prng = new Prng(`${seed}/${id(keyPair)}`);
  return new ReplicaCore(
    { allianceId, keyPair, nodeId: id(keyPair), members, policy: openPolicy, heads: [], proofs: [] },
    { nowMs: options.nowMs ?? (() => t0) },
    prng.random(),
  );
}

/** The driver's part, by hand: every commit confirmed in order, then advance. */
function apply(replica: ReplicaCore, ready: Ready): Ready {
  for (const commit of ready.commits) replica.committed(commit);
  replica.advance(ready);
  return ready;
}

function headAnnouncement(ready: Ready): Announcement {
  const announcement = ready.announcements.find((a) => a.kind?.$case === 'head');
  expect(announcement).toBeDefined();
  return announcement!;
}

describe('replica core', () => {
  it('group-commits concurrent local writes under one head, announced only in the same Ready as its commit', () => {
    const a = core(keys.a);
    expect(a.hasReady()).toBe(false);
    const seqs = [1, 2, 3].map((n) => a.propose(entityRegistration(usccFor(n))));
    expect(seqs).toEqual([1, 2, 3]);
    expect(a.hasReady()).toBe(true);
    const ready = a.ready();
    expect(ready.commits).toHaveLength(1);
    expect(ready.commits[0]!.entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(ready.commits[0]!.heads.map((h) => Number(h.head!.seq))).toEqual([3]);
    expect([...ready.written.keys()]).toEqual([1, 2, 3]);
    expect(headAnnouncement(ready).kind).toMatchObject({ value: { head: ready.commits[0]!.heads[0] } });
    // Not served to peers before it is durable: the head vector shows it only after committed().
    expect(a.headVector().heads).toEqual([]);
    a.committed(ready.commits[0]!);
    expect(a.headVector().heads.map((h) => Number(h.head!.seq))).toEqual([3]);
    a.advance(ready);
    expect(a.hasReady()).toBe(false);
  });

  it('holds one Ready at a time and checks the driver keeps the order', () => {
    const a = core(keys.a);
    a.propose(entityRegistration(usccFor(1)));
    const first = a.ready();
    // Writes during a commit wait for the next Ready.
    a.propose(entityRegistration(usccFor(2)));
    expect(a.hasReady()).toBe(false);
    expect(() => a.ready()).toThrow(AssertionError);
    expect(() => a.advance(first)).toThrow(/before every commit/);
    apply(a, first);
    const second = a.ready();
    expect(second.commits[0]!.entries.map((e) => e.seq)).toEqual([2]);
  });

  it('writes many records all or none: one commit of consecutive heads, announced by the last, none served before it is durable', () => {
    const a = core(keys.a);
    a.propose(entityRegistration(usccFor(1))); // a pending single write goes first, in the same commit
    const records = Array.from({ length: 2500 }, (_, i) => entityRegistration(usccFor(10 + i)));
    const seqs = a.proposeAll(records);
    expect(seqs[0]).toBe(2);
    expect(seqs.at(-1)).toBe(2501);
    const ready = a.ready();
    expect(ready.commits).toHaveLength(1);
    const [commit] = ready.commits;
    expect(commit!.entries).toHaveLength(2501);
    expect(commit!.heads.map((h) => Number(h.head!.seq))).toEqual([1, 1001, 2001, 2501]);
    expect(ready.written.size).toBe(2501);
    const announced = ready.announcements.map((x) => (x.kind?.$case === 'head' ? Number(x.kind.value.head!.head!.seq) : -1));
    expect(announced).toEqual([2501]);
    expect(a.headVector().heads).toEqual([]);
    apply(a, ready);
    expect(a.headVector().heads.map((h) => Number(h.head!.seq))).toEqual([2501]);
  });

  it('refuses a whole write when one record is invalid, naming it, and keeps the pending writes', () => {
    const a = core(keys.a);
    a.propose(entityRegistration(usccFor(1)));
    const records = [entityRegistration(usccFor(2)), entityRegistration('91350100M000100Y44'), entityRegistration(usccFor(3))];
    expect(() => a.proposeAll(records)).toThrow(/^records\[1\]\./);
    const ready = a.ready();
    expect(ready.commits.map((c) => c.entries.map((e) => e.seq))).toEqual([[1]]);
    apply(a, ready);
    expect(a.proposeAll([entityRegistration(usccFor(2))])).toEqual([2]);
  });

  it('owes no Ready for writes left pending once closed (a driver would otherwise spin on empty Readys)', () => {
    const a = core(keys.a);
    a.propose(entityRegistration(usccFor(1)));
    a.close();
    expect(a.hasReady()).toBe(false);
  });

  it('refuses an invalid record, appending nothing', () => {
    const a = core(keys.a);
    expect(() => a.propose(entityRegistration('91350100M000100Y44'))).toThrow(ValidationError);
    expect(a.hasReady()).toBe(false);
    expect(a.propose(entityRegistration(usccFor(1)))).toBe(1);
  });

  it('accepts a member\'s announced batch as a commit, and ignores it when heard again', () => {
    const [a, b] = [core(keys.a), core(keys.b)];
    a.propose(entityRegistration(usccFor(1)));
    const announcement = headAnnouncement(apply(a, a.ready()));
    expect(b.receiveAnnouncement(announcement, id(keys.a))).toBe('accept');
    const ready = b.ready();
    expect(ready.commits.map((c) => [c.author, c.entries.length, c.durable])).toEqual([[id(keys.a), 1, false]]);
    expect(ready.commits[0]!.event).toEqual({ type: 'ingested', author: id(keys.a), fromSeq: 1, toSeq: 1, source: 'gossip' });
    expect(ready.pulls).toEqual([]);
    apply(b, ready);
    expect(b.receiveAnnouncement(announcement, id(keys.a))).toBe('ignore');
    expect(b.hasReady()).toBe(false);
  });

  it('orders a pull when a head is ahead of what rode along, and turns the chunks into commits', () => {
    const [a, b] = [core(keys.a), core(keys.b)];
    const heads = [];
    for (let n = 1; n <= 3; n++) {
      a.propose(entityRegistration(usccFor(n)));
      heads.push(apply(a, a.ready()));
    }
    // B learns A's newest head from a head vector: nothing rode along, so it must pull.
    b.learn(id(keys.a), a.headVector().heads, []);
    const ready = apply(b, b.ready());
    expect(ready.commits).toEqual([]);
    expect(ready.pulls).toHaveLength(1);
    expect(ready.pulls[0]!.author).toBe(id(keys.a));
    expect(ready.pulls[0]!.peers[0]).toBe(id(keys.a));
    // One pull slot per author: learning the same head again orders no second pull.
    b.learn(id(keys.c), a.headVector().heads, []);
    expect(b.hasReady()).toBe(false);
    const range = b.missingRange(id(keys.a))!;
    expect(range).toEqual({ afterSeq: 0, upToSeq: 3 });
    const cursor = b.startPull(id(keys.a), id(keys.a), range.afterSeq, range.upToSeq, false)!;
    for (const r of heads) {
      const commit = r.commits[0]!;
      expect(b.pullChunk(cursor, { head: commit.heads[0]!, entries: commit.entries.map((e) => Buffer.from(e.bytes)) })).toEqual({ next: 'more' });
    }
    expect(b.pullEnded(cursor)).toBe(true);
    b.pullDone(id(keys.a));
    const pulled = apply(b, b.ready());
    expect(pulled.commits.map((c) => c.heads[0]!.head!.seq)).toEqual([1n, 2n, 3n]);
    expect(b.logs().find((l) => l.nodeId === id(keys.a))).toMatchObject({ storedSeq: 3, knownSeq: 3 });
  });

  it('proves an equivocation: proof and rebuild marker in one commit, the proof announced, the author quarantined at once', () => {
    const [a, b] = [core(keys.a), core(keys.b)];
    a.propose(entityRegistration(usccFor(1)));
    apply(b, (b.receiveAnnouncement(headAnnouncement(apply(a, a.ready())), id(keys.a)), b.ready()));
    // A signs a second history at seq 1 with the same key.
    const fork = new LogWriter(allianceId, keys.a);
    fork.append(entityRegistration(usccFor(2)), t0);
    const forged = fork.seal(t0)!;
    const verdict = b.receiveAnnouncement({ kind: { $case: 'head', value: { head: forged.head, entries: forged.entries.map((e) => Buffer.from(e.bytes)) } } }, id(keys.c));
    expect(verdict).toBe('ignore'); // already-seen seq: not forwarded as news; the proof is spread instead
    expect(b.isQuarantined(id(keys.a))).toBe(true);
    const ready = b.ready();
    expect(ready.commits).toHaveLength(1);
    expect(ready.commits[0]!.state.map((s) => s.key)).toEqual([proofKey(id(keys.a)), viewsRebuildKey]);
    expect(ready.commits[0]!.event).toMatchObject({ type: 'equivocation', author: id(keys.a), seq: 1 });
    expect(ready.announcements.map((x) => x.kind?.$case)).toEqual(['proof']);
    expect(ready.rebuildViews).toBe(true);
    apply(b, ready);
    // The proof convinces a third node from a head vector alone.
    const c = core(keys.c);
    c.learn(id(keys.b), [], b.headVector().proofs);
    expect(c.isQuarantined(id(keys.a))).toBe(true);
  });

  it('refuses to write while its own log is behind what a peer holds, and continues that log once pulled back', () => {
    const a = core(keys.a);
    const batches = [1, 2].map((n) => {
      a.propose(entityRegistration(usccFor(n)));
      return apply(a, a.ready()).commits[0]!;
    });
    // The same key on an empty store: its data directory was lost, and B still holds its log.
    const fresh = core(keys.a);
    fresh.learn(id(keys.b), a.headVector().heads, []);
    expect(() => fresh.propose(entityRegistration(usccFor(9)))).toThrow(UnavailableError);
    const ready = apply(fresh, fresh.ready());
    expect(ready.pulls.map((p) => [p.author, p.peers[0]])).toEqual([[id(keys.a), id(keys.b)]]);
    const cursor = fresh.startPull(id(keys.b), id(keys.a), 0, 2, false)!;
    // A chunk that skips the history it must extend is refused, and the peer reported.
    expect(fresh.pullChunk({ ...cursor }, { head: batches[1]!.heads[0]!, entries: batches[1]!.entries.map((e) => Buffer.from(e.bytes)) })).toEqual({ next: 'stop' });
    for (const batch of batches) expect(fresh.pullChunk(cursor, { head: batch.heads[0]!, entries: batch.entries.map((e) => Buffer.from(e.bytes)) })).toEqual({ next: 'more' });
    const pulled = apply(fresh, fresh.ready());
    expect(pulled.events.map((e) => e.type)).toEqual(['rejected']);
    expect(pulled.commits.map((c) => c.heads[0]!.head!.seq)).toEqual([1n, 2n]);
    fresh.pullDone(id(keys.a));
    expect(fresh.propose(entityRegistration(usccFor(9)))).toBe(3);
  });

  it('refuses a head of a non-member without blaming the relay', () => {
    const outsider = keyOf('outsider');
    const writer = new LogWriter(allianceId, outsider);
    writer.append(entityRegistration(usccFor(5)), t0);
    const sealed = writer.seal(t0)!;
    const b = core(keys.b);
    expect(b.receiveAnnouncement({ kind: { $case: 'head', value: { head: sealed.head, entries: sealed.entries.map((e) => Buffer.from(e.bytes)) } } }, id(keys.a))).toBe('ignore');
    expect(b.hasReady()).toBe(false);
    expect(() => b.learn(id(outsider), [], [], true)).toThrow(MembershipError);
  });
});
