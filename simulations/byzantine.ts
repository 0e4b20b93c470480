// Misbehaving members. A Byzantine node runs a real Replica (it keeps learning
// the alliance's logs, as a compromised member would) and misbehaves through
// the adapters around it: what it publishes, what it forwards, how it answers
// peer calls. It holds its own SM2 key, so it can sign anything as itself,
// but no other member's key.
//
// Behaviours (one per node; a scenario may give several nodes the same one):
// - forge: tampered entries under another member's genuine head, heads of
//   other members signed with its own key, its own batches holding invalid
//   records (authentic, so stored, but ignored by every view); serves
//   tampered chunks when pulled and forged heads in exchanges.
// - replay: re-publishes other members' old heads (re-encoded, so each is a
//   new gossip message, as with gossipsub's from+seqno message ids).
// - equivocate: signs two different batches at one seq and shows each to
//   half of its mesh peers.
// - withhold: forwards no gossip and never answers a pull, while advertising
//   every head in exchanges (so peers pick it as the source to pull from).
// - flood: invalid gossip at a high rate to its peers (garbage bytes,
//   non-member heads, bad signatures), pull streams it never reads,
//   exchanges full of forged heads.
// - equivocate-quiet: two histories at one seq with the same signing time,
//   never gossiped: each half of the alliance gets one fork, by exchange and
//   pull only (a known gap; see docs/SIMULATION.md).

import type { Announcement, ExchangeHeadsRequest, ExchangeHeadsResponse, PullEntriesRequest, PullEntriesResponse } from '../gen/tongxing/federation/v1/peer.js';
import type { SignedHead } from '../gen/tongxing/log/v1/log.js';
import { sm3 } from '../federation/crypto/sm3.js';
import { encodeEntry, toHex, zeroHash } from '../federation/log/entry.js';
import { signHead } from '../federation/log/head.js';
import { hlcPack, hlcTick } from '../federation/log/hlc.js';
import { LogWriter, type LogTip } from '../federation/log/writer.js';
import { entityRegistration, sanctionIssue, usccFor } from '../federation/testing/records.js';
import type { NodeId } from './core/index.js';
import type { Misbehaviour, SimNode } from './alliance.js';
import type { PeerHandler } from './transport.js';
import { encodeAnnouncement, gossipPayload, messageBytes, type GossipPayload, type PeerMessage } from './wire.js';

export const byzantineBehaviours = ['forge', 'replay', 'equivocate', 'withhold', 'flood', 'equivocate-quiet'] as const;
export type ByzantineBehaviour = (typeof byzantineBehaviours)[number];

/** The behaviours a `byzantine` scenario switches on unless told otherwise (equivocate-quiet shows an open gap). */
export const byzantineBehavioursDefault: readonly ByzantineBehaviour[] = ['forge', 'replay', 'equivocate', 'withhold', 'flood'];

export interface ByzantineContext {
  /** Misbehaviour stops at this virtual time (faults stop before the final checks). */
  readonly activeUntilMs: number;
  /** Equivocation starts at this virtual time. */
  readonly equivocateAtMs: number;
  /** Called when `node` signs two conflicting heads (the checker then watches whether both reach honest nodes). */
  equivocationSigned(node: SimNode, heads: readonly SignedHead[]): void;
  /** Counts what the misbehaviour did, for the report. */
  count(what: string, amount?: number): void;
}

/** A USCC with a wrong check character: validateRecord refuses it. */
const invalidUscc = '91350100M000100Y44';

export function misbehaviour(behaviour: ByzantineBehaviour, context: ByzantineContext): Misbehaviour {
  switch (behaviour) {
    case 'forge':
      return forger(context);
    case 'replay':
      return replayer(context);
    case 'equivocate':
      return equivocator(context);
    case 'withhold':
      return withholder(context);
    case 'flood':
      return flooder(context);
    case 'equivocate-quiet':
      return quietEquivocator(context);
  }
}

// ---- helpers ----

const active = (node: SimNode, context: ByzantineContext): boolean => node.status === 'up' && node.alliance.scheduler.now < context.activeUntilMs;

/** Runs `action` every `intervalMs` (jittered) while the behaviour is active. */
function repeat(node: SimNode, context: ByzantineContext, intervalMs: number, action: () => Promise<void> | void): void {
  const incarnation = node.incarnation;
  const schedule = (): void => {
    node.timers.setTimeout(async () => {
      if (node.incarnation !== incarnation || !active(node, context)) return;
      await action();
      schedule();
    }, Math.round(intervalMs * (0.5 + node.rng.float())));
  };
  schedule();
}

function sendGossip(node: SimNode, to: NodeId, payload: GossipPayload): void {
  const sent = node.alliance.traffic.gossipSent[payload.label];
  sent.messages++;
  sent.bytes += messageBytes(payload);
  node.alliance.network.send(node.id, to, payload, messageBytes(payload));
}

function headAnnouncement(head: SignedHead, entries: readonly Uint8Array[]): Announcement {
  return { kind: { $case: 'head', value: { head, entries: entries.map((e) => Buffer.from(e)) } } };
}

/** Authors other than `node` whose logs it stores, with their latest stored heads. */
async function othersHeads(node: SimNode): Promise<SignedHead[]> {
  const heads = await node.store.latestHeads();
  return heads.filter((h) => toHex(h.head!.author) !== node.id && h.head!.seq > 0n);
}

function flipByte(bytes: Uint8Array, rngValue: number): Buffer {
  const copy = Buffer.from(bytes);
  const at = Math.floor(copy.length / 2) + (rngValue % Math.max(1, Math.floor(copy.length / 3)));
  copy[Math.min(at, copy.length - 1)]! ^= 0x20;
  return copy;
}

/** This node's own stored tip (its honest replica's log end). */
async function ownTip(node: SimNode): Promise<LogTip> {
  const head = (await node.store.latestHead(node.id))?.head;
  return head === undefined ? { seq: 0, hash: zeroHash, hlc: 0n } : { seq: Number(head.seq), hash: head.entryHash, hlc: head.hlc };
}

/** A head of `author` at `seq` signed with `node`'s key: its signature cannot verify under the author's key. */
function forgedHead(node: SimNode, author: Buffer, seq: bigint): SignedHead {
  const wallMs = node.clock.nowMs();
  return signHead(
    { allianceId: node.alliance.allianceId, author, seq, entryHash: sm3(Buffer.from(`forged/${seq}/${node.rng.next()}`)), hlc: hlcPack(wallMs, 0), signedAtMs: BigInt(wallMs) },
    node.keyPair,
    node.signing,
  );
}

// ---- forge ----

function forger(context: ByzantineContext): Misbehaviour {
  /** Its own log's end as it last signed it: batches with invalid records are stored (views ignore them), so each must extend the last, or it would equivocate. */
  let signedTip: LogTip | undefined;
  return {
    name: 'forge',
    forwardsGossip: true,
    onStart(node) {
      repeat(node, context, 1000, async () => {
        const peers = node.alliance.mesh.neighbours(node.id);
        const heads = await othersHeads(node);
        const choice = node.rng.int(0, 3);
        let announcement: Announcement;
        if (choice === 0 && heads.length > 0) {
          // A genuine head of another member over a tampered copy of its batch.
          const head = node.rng.pick(heads);
          const author = toHex(head.head!.author);
          const seq = Number(head.head!.seq);
          const [entry] = await node.store.entries(author, seq, seq, 1);
          if (entry === undefined) return;
          announcement = headAnnouncement(head, [flipByte(entry.bytes, node.rng.next())]);
          context.count('forge.tampered_batch');
        } else if (choice === 1 && heads.length > 0) {
          // A newer head of another member, signed with our key.
          const head = node.rng.pick(heads);
          announcement = headAnnouncement(forgedHead(node, head.head!.author, head.head!.seq + 1n), []);
          context.count('forge.bad_signature');
        } else {
          // Our own next batch, validly signed, holding a record no validator accepts.
          const stored = await ownTip(node);
          const tip = signedTip !== undefined && signedTip.seq > stored.seq ? signedTip : stored;
          const wallMs = node.clock.nowMs();
          const hlc = hlcTick(tip.hlc, wallMs);
          const hashed = encodeEntry({
            allianceId: node.alliance.allianceId,
            author: Buffer.from(node.id, 'hex'),
            seq: BigInt(tip.seq + 1),
            prev: Buffer.from(tip.hash),
            hlc,
            record: entityRegistration(invalidUscc),
          });
          const head = signHead(
            { allianceId: node.alliance.allianceId, author: Buffer.from(node.id, 'hex'), seq: BigInt(tip.seq + 1), entryHash: hashed.hash, hlc, signedAtMs: BigInt(wallMs) },
            node.keyPair,
            node.signing,
          );
          announcement = headAnnouncement(head, [hashed.bytes]);
          signedTip = { seq: tip.seq + 1, hash: hashed.hash, hlc };
          context.count('forge.invalid_record');
        }
        const payload = gossipPayload(encodeAnnouncement(announcement), 'invalid');
        for (const peer of peers) sendGossip(node, peer, payload);
      });
    },
    handler(node, replica) {
      return {
        async handleExchangeHeads(from, request) {
          const response = await replica.handleExchangeHeads(from, request);
          if (!active(node, context) || response.heads.length === 0) return response;
          // Two of the heads we advertise are forged: newer seqs, our signature.
          const heads = response.heads.slice();
          for (let i = 0; i < 2; i++) {
            const at = node.rng.int(0, heads.length);
            const original = heads[at]!;
            if (toHex(original.head!.author) === node.id) continue;
            heads[at] = forgedHead(node, original.head!.author, original.head!.seq + 1n);
            context.count('forge.exchange_head');
          }
          return { heads, proofs: response.proofs };
        },
        async *servePull(from, request) {
          for await (const chunk of replica.servePull(from, request)) {
            if (active(node, context) && toHex(request.author) !== node.id && chunk.entries.length > 0) {
              context.count('forge.pull_chunk');
              yield { entries: chunk.entries.map((e, i) => (i === 0 ? flipByte(e, node.rng.next()) : e)), head: chunk.head };
            } else {
              yield chunk;
            }
          }
        },
      };
    },
  };
}

// ---- replay ----

function replayer(context: ByzantineContext): Misbehaviour {
  return {
    name: 'replay',
    forwardsGossip: true,
    onStart(node) {
      repeat(node, context, 1000, async () => {
        const heads = await othersHeads(node);
        if (heads.length === 0) return;
        const head = node.rng.pick(heads);
        const author = toHex(head.head!.author);
        // An older stored head of the same author if there is one (a stale head), else this one.
        const seq = Number(head.head!.seq);
        const older = seq > 1 ? await node.store.headAtOrBefore(author, node.rng.int(1, seq)) : undefined;
        const replayed = older ?? head;
        const payload = gossipPayload(encodeAnnouncement(headAnnouncement(replayed, [])), 'replay');
        for (const peer of node.alliance.mesh.neighbours(node.id)) sendGossip(node, peer, payload);
        context.count('replay.published');
      });
    },
  };
}

// ---- equivocate ----

/** Two batches at the same seq after our stored tip, one sanction each (different ids), signed with the same key. */
function forks(node: SimNode, tip: LogTip, signedAtMs: number): Array<{ head: SignedHead; entries: Uint8Array[] }> {
  return [1, 2].map((branch) => {
    const writer = new LogWriter(node.alliance.allianceId, node.keyPair, tip);
    writer.append(sanctionIssue(`EQ-${node.index}-${tip.seq + 1}-${branch}`, usccFor(900_000 + node.index), signedAtMs), signedAtMs);
    const sealed = writer.seal(signedAtMs, node.signing)!;
    return { head: sealed.head, entries: sealed.entries.map((e) => e.bytes) };
  });
}

function equivocator(context: ByzantineContext): Misbehaviour {
  return {
    name: 'equivocate',
    forwardsGossip: true,
    onStart(node) {
      const incarnation = node.incarnation;
      const delayMs = Math.max(0, context.equivocateAtMs - node.alliance.scheduler.now);
      node.timers.setTimeout(async () => {
        if (node.incarnation !== incarnation || !active(node, context)) return;
        const tip = await ownTip(node);
        const [left, right] = forks(node, tip, node.clock.nowMs());
        const peers = node.alliance.mesh.neighbours(node.id);
        if (peers.length < 2) return;
        const leftPayload = gossipPayload(encodeAnnouncement(headAnnouncement(left!.head, left!.entries)), 'record');
        const rightPayload = gossipPayload(encodeAnnouncement(headAnnouncement(right!.head, right!.entries)), 'record');
        context.equivocationSigned(node, [left!.head, right!.head]);
        peers.forEach((peer, i) => sendGossip(node, peer, i % 2 === 0 ? leftPayload : rightPayload));
        context.count('equivocate.forks');
      }, delayMs);
    },
  };
}

// ---- withhold ----

function withholder(context: ByzantineContext): Misbehaviour {
  return {
    name: 'withhold',
    forwardsGossip: false,
    onRequest(node, _from, request) {
      if (request.kind !== 'pull' || !active(node, context)) return false;
      context.count('withhold.pull_ignored');
      return true; // never answered: the caller retransmits until pullIdleTimeoutMs, then tries another peer
    },
  };
}

// ---- flood ----

/** Invalid gossip messages per second to each peer, and how many of them carry a (costly to check) bad signature. */
const floodMessagesPerSecond = 100;
const floodBadSignatureEvery = 50;

function flooder(context: ByzantineContext): Misbehaviour {
  return {
    name: 'flood',
    forwardsGossip: true,
    onStart(node) {
      const incarnation = node.incarnation;
      let sent = 0;
      const tick = (): void => {
        if (node.incarnation !== incarnation || !active(node, context)) return;
        node.timers.setTimeout(tick, 1000 / floodMessagesPerSecond);
        const peers = node.alliance.mesh.neighbours(node.id);
        sent++;
        let bytes: Uint8Array;
        if (sent % floodBadSignatureEvery === 0) {
          const victim = node.alliance.nodes[node.rng.int(0, node.alliance.nodes.length)]!;
          bytes = encodeAnnouncement(headAnnouncement(forgedHead(node, Buffer.from(victim.id, 'hex'), BigInt(1 + node.rng.int(0, 1000))), []));
          context.count('flood.bad_signature');
        } else if (sent % 2 === 0) {
          // A well-formed head of an author that is no member.
          bytes = encodeAnnouncement(headAnnouncement(forgedHead(node, sm3(Buffer.from(`stranger/${sent}`)), 1n), []));
          context.count('flood.non_member');
        } else {
          bytes = Buffer.alloc(64 + node.rng.int(0, 256));
          for (let i = 0; i < bytes.length; i++) bytes[i] = node.rng.next() & 0xff;
          context.count('flood.garbage');
        }
        const payload = gossipPayload(bytes, 'invalid');
        for (const peer of peers) sendGossip(node, peer, payload);
      };
      node.timers.setTimeout(tick, 1000 / floodMessagesPerSecond);
      // Pull streams opened and never read: servers refuse past pullsInFlightPerPeerMax and expire the rest.
      let stream = 1_000_000;
      repeat(node, context, 100, () => {
        const peer = node.rng.pick(node.alliance.mesh.neighbours(node.id));
        const victim = node.rng.pick(node.alliance.nodes);
        const message: PeerMessage = { kind: 'pull', stream: stream++, index: 0, request: { author: Buffer.from(victim.id, 'hex'), afterSeq: 0n, upToSeq: 0n } };
        node.alliance.network.call(node.id, peer, message, messageBytes(message), 1000, () => undefined);
        context.count('flood.pull_opened');
      });
      // Exchanges whose head vectors are forged (every head costs the callee one SM2 verification).
      repeat(node, context, 1000, () => {
        const peer = node.rng.pick(node.alliance.mesh.neighbours(node.id));
        const heads = [0, 1, 2].map(() => forgedHead(node, Buffer.from(node.rng.pick(node.alliance.nodes).id, 'hex'), 1_000_000n));
        const message: PeerMessage = { kind: 'exchange', request: { heads, proofs: [] } };
        node.alliance.network.call(node.id, peer, message, messageBytes(message), 1000, () => undefined);
        context.count('flood.forged_exchange');
      });
    },
  };
}

// ---- equivocate-quiet ----

function quietEquivocator(context: ByzantineContext): Misbehaviour {
  let fork: Array<{ head: SignedHead; entries: Uint8Array[] }> | undefined;
  let forkAfterSeq = 0;
  /** Which history a caller is shown: fixed per caller. */
  const branchOf = (node: SimNode, caller: NodeId): number => node.alliance.node(caller).index % 2;
  return {
    name: 'equivocate-quiet',
    forwardsGossip: true,
    onStart(node) {
      const incarnation = node.incarnation;
      node.timers.setTimeout(async () => {
        if (node.incarnation !== incarnation || fork !== undefined) return;
        const tip = await ownTip(node);
        forkAfterSeq = tip.seq;
        fork = forks(node, tip, node.clock.nowMs());
        context.equivocationSigned(node, fork.map((f) => f.head));
        node.silent = true; // no beacon or exchange of its own may show a third view of its log
        context.count('equivocate_quiet.forks');
      }, Math.max(0, context.equivocateAtMs - node.alliance.scheduler.now));
    },
    handler(node, replica): PeerHandler {
      return {
        async handleExchangeHeads(from: string, request: ExchangeHeadsRequest): Promise<ExchangeHeadsResponse> {
          const response = await replica.handleExchangeHeads(from, request);
          if (fork === undefined) return response;
          const own = fork[branchOf(node, from)]!.head;
          return { heads: [...response.heads.filter((h) => toHex(h.head!.author) !== node.id), own], proofs: response.proofs };
        },
        async *servePull(from: string, request: PullEntriesRequest): AsyncGenerator<PullEntriesResponse> {
          const ownLog = toHex(request.author) === node.id;
          if (!ownLog || fork === undefined) {
            yield* replica.servePull(from, request);
            return;
          }
          if (Number(request.afterSeq) < forkAfterSeq) yield* replica.servePull(from, { ...request, upToSeq: BigInt(forkAfterSeq) });
          const branch = fork[branchOf(node, from)]!;
          yield { entries: branch.entries.map((e) => Buffer.from(e)), head: branch.head };
        },
      };
    },
  };
}

