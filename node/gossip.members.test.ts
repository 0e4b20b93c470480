// Members-only gossip and cheap refusals (issues 11 and 12), with real libp2p
// nodes on 127.0.0.1 and, where signatures matter, a real Replica behind the
// node's own validator. No assertion depends on timing: waits poll a
// condition until a deadline, and costs are counted, not timed.

import { afterEach, describe, expect, it } from 'vitest';
import { Announcement } from '../gen/tongxing/federation/v1/peer.js';
import type { SignedHead } from '../gen/tongxing/log/v1/log.js';
import { generateKeyPair, nodeIdOf, type Sm2KeyPair } from '../federation/crypto/sm2.js';
import { sm3 } from '../federation/crypto/sm3.js';
import { gossipHeadAgeMsMax, gossipVerificationsPerPeerPerSecondMax } from '../federation/limits.js';
import { hlcPack } from '../federation/log/hlc.js';
import { signHead } from '../federation/log/head.js';
import { Membership, type Member } from '../federation/membership.js';
import { Replica, type ReplicaEvent } from '../federation/replica.js';
import { MemoryStore } from '../federation/store/memory.js';
import { Bus } from '../federation/testing/bus.js';
import { eventually } from '../federation/testing/eventually.js';
import {
  announcementValidator,
  Gossip,
  generatePeerKey,
  gossipInvalidMessagesMax,
  gossipScoreThresholds,
  memberPeerIds,
  peerIdOfKey,
  type GossipInit,
  type GossipValidator,
} from './gossip.js';
import { Prng } from '../federation/testing/prng.js';

const allianceIdHex = 'a11ce1';
const allianceId = Buffer.from(allianceIdHex, 'hex');
const text = (payload: Uint8Array): string => Buffer.from(payload).toString('utf8');
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const graylistThreshold = gossipScoreThresholds.graylistThreshold;

const running: Gossip[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((node) => node.stop()));
});

/** Waits for a synchronous condition (eventually() takes an async probe). */
const until = (what: string, condition: () => boolean) => eventually(what, async () => condition() || undefined, { timeoutMs: 10_000, pollMs: 25 });

interface Peer {
  gossip: Gossip;
  peerId: string;
  validated: string[];
  delivered: string[];
}

/** A started node with a fixed key, allowing exactly `allow`. Stopped in afterEach even when a test fails. */
async function peer(allow: readonly string[], init: Partial<GossipInit> & { key?: Awaited<ReturnType<typeof generatePeerKey>> } = {}): Promise<Peer> {
  const { key = await generatePeerKey(), ...rest } = init;
  const validated: string[] = [];
  const delivered: string[] = [];
  const gossip = new Gossip({
    allianceIdHex,
    allowedPeerIds: allow,
    dialRetryIntervalMs: 100, // tests wait on reconnects; production keeps the default
    privateKey: key,
    validate: (payload) => {
      validated.push(text(payload));
      return 'accept';
    },
    onMessage: (payload) => void delivered.push(text(payload)),
    ...rest,
  });
  running.push(gossip);
  await gossip.start();
  return { gossip, peerId: gossip.peerId, validated, delivered };
}

async function keys(n: number) {
  const list = await Promise.all(Array.from({ length: n }, () => generatePeerKey()));
  return list.map((key) => ({ key, peerId: peerIdOfKey(key) }));
}

/** An address without its /p2p/ part: the dialler learns the peer id only from the handshake. */
const withoutPeerId = (address: string): string => address.replace(/\/p2p\/[^/]+$/, '');

describe('members-only gossip', () => {
  it('refuses a peer that is not a member: it cannot connect, subscribe or read an announcement, while members do', async () => {
    const [a, b, x] = await keys(3);
    const nodeA = await peer([b!.peerId], { key: a!.key });
    const nodeB = await peer([a!.peerId], { key: b!.key, bootstrap: nodeA.gossip.addresses() });
    // X is not admitted: it allows the members (as a new city's node does) and keeps dialling A.
    const outsider = await peer([a!.peerId, b!.peerId], { key: x!.key, bootstrap: nodeA.gossip.addresses() });

    await until('mesh A-B', () => nodeA.gossip.meshPeers() === 1 && nodeB.gossip.meshPeers() === 1);
    await until("A refused X's dials twice", () => nodeA.gossip.counters.connectionsRefused >= 2);

    await nodeB.gossip.publish(bytes('entity registration 91530100MA6K0000X1'));
    await until('A got the announcement', () => nodeA.delivered.length === 1);

    expect(nodeA.gossip.connectedPeers()).toEqual([b!.peerId]);
    expect(nodeA.gossip.peers()).toBe(1); // subscribers: B only
    expect(outsider.gossip.connectedPeers()).toEqual([]);
    expect(outsider.gossip.peers()).toBe(0);
    expect(outsider.validated).toEqual([]);
    expect(outsider.delivered).toEqual([]);
    expect(outsider.gossip.counters.connectionsRefused).toBe(0); // refused by A, not by itself
  });

  for (const form of ['with its peer id', 'without a peer id'] as const) {
    it(`does not let a bootstrap address ${form} bypass the gater`, async () => {
      const [a, x] = await keys(2);
      // X would accept A: only A's gater stands between them.
      const outsider = await peer([a!.peerId], { key: x!.key });
      const address = outsider.gossip.addresses()[0]!;
      const nodeA = await peer([], { key: a!.key, bootstrap: [form === 'with its peer id' ? address : withoutPeerId(address)] });

      await until('A refused its bootstrap peer twice', () => nodeA.gossip.counters.connectionsRefused >= 2);
      expect(nodeA.gossip.connectedPeers()).toEqual([]);
      expect(outsider.gossip.connectedPeers()).toEqual([]);
    });
  }

  it('disconnects a member removed from the allowed set, refuses its redials, and ignores its messages relayed by others', async () => {
    const [a, b, c] = await keys(3);
    const all = [a!.peerId, b!.peerId, c!.peerId];
    const nodeA = await peer(all, { key: a!.key });
    const nodeB = await peer(all, { key: b!.key, bootstrap: nodeA.gossip.addresses() });
    const nodeC = await peer(all, { key: c!.key, bootstrap: [...nodeA.gossip.addresses(), ...nodeB.gossip.addresses()] });
    await until('full mesh', () => [nodeA, nodeB, nodeC].every((n) => n.gossip.meshPeers() === 2));

    // A's epoch suspends C; B has not applied it yet and still allows C.
    await expect(nodeA.gossip.allowPeers([a!.peerId, b!.peerId])).resolves.toBe(1);
    expect(nodeA.gossip.connectedPeers()).toEqual([b!.peerId]);
    await until("A refused C's redial", () => nodeA.gossip.counters.connectionsRefused >= 1);
    expect(nodeA.gossip.connectedPeers()).toEqual([b!.peerId]);

    await nodeC.gossip.publish(bytes('from C after its suspension'));
    await until('B relayed it to A, which ignored it unvalidated', () => nodeA.gossip.counters.messagesFromPeersNotAllowed >= 1);
    expect(nodeB.delivered).toEqual(['from C after its suspension']);
    expect(nodeA.validated).toEqual([]);
    expect(nodeA.delivered).toEqual([]);
    // Not B's fault: its score at A did not drop.
    expect(nodeA.gossip.peerScore(b!.peerId)).toBeGreaterThanOrEqual(0);
  });
});

// ---- cheap refusals, with a real Replica behind the node's validator ----

interface City {
  keyPair: Sm2KeyPair;
  nodeId: string;
  peerKey: Awaited<ReturnType<typeof generatePeerKey>>;
  peerId: string;
}

async function city(): Promise<City> {
  const keyPair = generateKeyPair();
  const peerKey = await generatePeerKey();
  return { keyPair, nodeId: nodeIdOf(keyPair.publicKey), peerKey, peerId: peerIdOfKey(peerKey) };
}

function memberOf(c: City, i: number): Member {
  return { nodeId: c.nodeId, publicKey: c.keyPair.publicKey, city: `City${i}`, regionCode: '530100', endpoints: [], libp2pPeerId: c.peerId };
}

/** Nobody to call: gossip is all this replica hears. */

/** The replica of `self` and the node's validator in front of it; counts what reaches the replica. */
async function receiver(self: City, cities: readonly City[], nowMs: () => number) {
  const members = new Membership(cities.map(memberOf));
  const events: ReplicaEvent[] = [];
  const replica = await Replica.open(
    { allianceId, keyPair: self.keyPair, members },
    { store: new MemoryStore(), transport: new Bus().transport(self.nodeId), clock: { nowMs }, random: new Prng('test').random(), onEvent: (e) => void events.push(e) },
  );
  const peers = memberPeerIds(members, self.nodeId);
  let replicaCalls = 0;
  const counted: Pick<Replica, 'receiveAnnouncement'> = {
    receiveAnnouncement: (...args) => {
      replicaCalls++;
      return replica.receiveAnnouncement(...args);
    },
  };
  const validate: GossipValidator = announcementValidator(counted, (peerId) => peers.get(peerId));
  const rejections = () => events.flatMap((e) => (e.type === 'rejected' ? [e.reason] : []));
  return { replica, peers, validate, rejections, replicaCalls: () => replicaCalls };
}

/** A head of `author` at `seq`, signed by `signer` (another key makes a bad signature that still costs a full SM2 verification). */
function head(author: City, seq: number, signedAtMs: number, signer: Sm2KeyPair = author.keyPair): SignedHead {
  const entryHash = sm3(Buffer.from(`entries of ${author.nodeId} up to ${seq}`));
  return signHead({ allianceId, author: Buffer.from(author.nodeId, 'hex'), seq: BigInt(seq), entryHash, hlc: hlcPack(signedAtMs, 0), signedAtMs: BigInt(signedAtMs) }, signer);
}

const announcement = (signed: SignedHead): Uint8Array => Announcement.encode({ kind: { $case: 'head', value: { head: signed, entries: [] } } }).finish();

describe('gossip abuse is cheap to refuse', () => {
  it(`graylists a member sending a burst of badly signed heads after gossipInvalidMessagesMax (${gossipInvalidMessagesMax}) SM2 verifications`, async () => {
    const [r, m] = [await city(), await city()];
    const forger = generateKeyPair();
    const node = await receiver(r, [r, m], Date.now);
    const nodeR = await peer([...node.peers.keys()], { key: r.peerKey, validate: node.validate });
    const nodeM = await peer([r.peerId], { key: m.peerKey, bootstrap: nodeR.gossip.addresses() });
    await until('mesh R-M', () => nodeR.gossip.meshPeers() === 1 && nodeM.gossip.meshPeers() === 1);

    const burst = 30;
    const now = Date.now();
    // Fresh, newer than anything R knows, from their author: only the signature is wrong.
    await Promise.all(Array.from({ length: burst }, (_, i) => nodeM.gossip.publish(announcement(head(m, i + 1, now, forger)))));

    await until(`M's score at R below ${graylistThreshold}`, () => nodeR.gossip.peerScore(m.peerId) < graylistThreshold);
    await until('the rest refused unvalidated', () => nodeR.gossip.counters.messagesRefusedUnvalidated > 0);
    expect(node.replicaCalls()).toBe(gossipInvalidMessagesMax);
    expect(node.rejections()).toHaveLength(gossipInvalidMessagesMax);
    for (const reason of node.rejections()) expect(reason).toMatch(/signature does not verify/);
    // Graylisted, it is hung up on, and its redials (every 100 ms here) are refused while it stays graylisted.
    await until('M disconnected', () => !nodeR.gossip.connectedPeers().includes(m.peerId));
    const refusedBefore = nodeR.gossip.counters.connectionsRefused;
    await until('M redials, refused', () => nodeR.gossip.counters.connectionsRefused > refusedBefore);
    expect(nodeR.gossip.connectedPeers()).not.toContain(m.peerId);
  });

  it('rejects, before any signature check, heads a member publishes of a non-member, of another member, or replayed', async () => {
    const [r, m, k, z] = [await city(), await city(), await city(), await city()];
    const node = await receiver(r, [r, m, k], Date.now); // z is no member
    const nodeR = await peer([...node.peers.keys()], { key: r.peerKey, validate: node.validate });
    const nodeM = await peer([r.peerId], { key: m.peerKey, bootstrap: nodeR.gossip.addresses() });
    await until('mesh R-M', () => nodeR.gossip.meshPeers() === 1);

    const now = Date.now();
    const forger = generateKeyPair();
    await nodeM.gossip.publish(announcement(head(z, 1, now))); // genuinely signed by the non-member
    await nodeM.gossip.publish(announcement(head(k, 1, now, forger))); // would fail the signature check, if it came to that
    await nodeM.gossip.publish(announcement(head(m, 1, now - 2 * gossipHeadAgeMsMax, forger))); // old: a replay

    await until('three rejections', () => node.rejections().length === 3);
    const [nonMember, otherMember, replay] = node.rejections();
    expect(nonMember).toMatch(/published by .*only its own heads/);
    expect(otherMember).toMatch(/published by .*only its own heads/);
    expect(replay).toMatch(/replayed head .*gossipHeadAgeMsMax/);
    for (const reason of node.rejections()) expect(reason).not.toMatch(/signature/);
    await until(`M's score at R below ${graylistThreshold}`, () => nodeR.gossip.peerScore(m.peerId) < graylistThreshold);
  });

  it(`lets one member's heads cost at most ${gossipVerificationsPerPeerPerSecondMax} signature checks a second (burst twice that), and re-checks nothing it already knows`, async () => {
    const [r, m] = [await city(), await city()];
    let nowMs = 1_800_000_000_000;
    const node = await receiver(r, [r, m], () => nowMs);
    const forger = generateKeyPair();
    const fromM = (signed: SignedHead) => node.validate(announcement(signed), m.peerId, m.peerId);
    const burst = 2 * gossipVerificationsPerPeerPerSecondMax;

    let seq = 0;
    const verdicts: string[] = [];
    for (let i = 0; i < burst; i++) verdicts.push(await fromM(head(m, ++seq, nowMs)));
    expect(verdicts).toEqual(Array(burst).fill('accept'));
    // The budget is spent: a bad signature is not even looked at (ignore, not reject).
    expect(await fromM(head(m, ++seq, nowMs, forger))).toBe('ignore');
    expect(node.rejections()).toEqual([]);

    nowMs += 1000; // one second refills gossipVerificationsPerPeerPerSecondMax checks
    verdicts.length = 0;
    for (let i = 0; i < gossipVerificationsPerPeerPerSecondMax; i++) verdicts.push(await fromM(head(m, ++seq, nowMs)));
    expect(verdicts).toEqual(Array(gossipVerificationsPerPeerPerSecondMax).fill('accept'));
    expect(await fromM(head(m, ++seq, nowMs))).toBe('ignore');

    nowMs += 1000;
    // A copy of the newest head R knows, badly signed: nothing to learn, so no check and no budget spent.
    const newest = head(m, seq - 1, nowMs - 1000);
    expect(await fromM({ ...newest, signature: head(m, seq - 1, nowMs - 1000, forger).signature })).toBe('ignore');
    expect(node.rejections()).toEqual([]);
    // The budget refilled meanwhile: a badly signed new head is checked, and rejected.
    expect(await fromM(head(m, seq + 1, nowMs, forger))).toBe('reject');
    expect(node.rejections()).toEqual([expect.stringMatching(/signature does not verify/)]);
  });
});
