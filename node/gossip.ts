// Announcements over libp2p gossipsub: one node, one alliance topic, opaque
// payloads (signed heads and equivocation proofs, encoded by the caller).
// Gossip only announces; lost or rejected announcements are repaired by pull
// and anti-entropy over gRPC (docs/ARCHITECTURE.md, "Small batches ride on the gossip").
// Members only: a connection gater admits just the peer ids it is given (the
// active members' recorded libp2p peer ids), in either direction, so nobody
// else can subscribe or read an announcement.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { gossipsub, StrictSign, TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub';
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score';
import { identify, type Identify } from '@libp2p/identify';
import type { Connection, ConnectionGater, Libp2p, Logger, PeerId, PrivateKey } from '@libp2p/interface';
import { noise } from '@libp2p/noise';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { Announcement } from '../gen/tongxing/federation/v1/peer.js';
import { assert, EncodingError, LimitError, ValidationError } from '../federation/errors.js';
import { gossipMessageBytesMax } from '../federation/limits.js';
import { gossipInvalidMessagesMax } from './limits.js';
import type { Membership } from '../federation/membership.js';
import type { Replica } from '../federation/replica.js';

export type GossipVerdict = 'accept' | 'reject' | 'ignore';

/**
 * Decides whether an announcement is delivered and forwarded. 'reject' means
 * invalid (the sender loses score); 'ignore' means not useful but not the
 * sender's fault (e.g. stale). `fromPeer` is the publishing peer id, whose
 * libp2p signature gossipsub has already checked (StrictSign); `viaPeer` the
 * connected peer that sent it (the publisher or a relay). Both are allowed
 * peers. Called for one message of a `viaPeer` at a time, in arrival order.
 * Should resolve quickly: gossipsub holds the message until it does.
 */
export type GossipValidator = (payload: Uint8Array, fromPeer: string, viaPeer: string) => GossipVerdict | Promise<GossipVerdict>;

/** Called once per accepted announcement, in arrival order, not awaited (never for our own publishes). */
export type GossipHandler = (payload: Uint8Array, fromPeer: string) => void | Promise<void>;

export interface GossipInit {
  /** Hex alliance id; selects the topic `/tongxing/<allianceIdHex>/heads/1`. */
  allianceIdHex: string;
  /**
   * The only peer ids that may connect, in either direction (dials, bootstrap
   * addresses included, and inbound handshakes), and so be in the mesh: the
   * active members' gossip peer ids. Replaced with `allowPeers()`.
   */
  allowedPeerIds: Iterable<string>;
  validate: GossipValidator;
  onMessage?: GossipHandler;
  /** TCP multiaddr to listen on; port 0 picks a free port. Default `/ip4/127.0.0.1/tcp/0`. */
  listen?: string;
  /** Multiaddrs (with `/p2p/<peerId>`) dialled at start and redialled while not connected. */
  bootstrap?: readonly string[];
  /** Ed25519 key fixing the peer id across restarts. Without one a key is generated per Gossip object. */
  privateKey?: PrivateKey;
  /** Default 2000: a peer that comes up is joined within ~2 s; a refused dial on a LAN costs ~nothing. */
  dialRetryIntervalMs?: number;
  /** Default 5000: bounds one dial (and so `start()`) when a bootstrap host drops packets. */
  dialTimeoutMs?: number;
  /** Default `gossipMessageBytesMax`. Larger publishes throw LimitError; larger receipts are rejected. */
  messageBytesMax?: number;
  /** Default 500; see `gossipsubOptions`. */
  heartbeatIntervalMs?: number;
}

export { gossipInvalidMessagesMax, gossipMessageBytesMax };

/** What the gater and the validation gate refused (for metrics and tests). */
export interface GossipCounters {
  /** Dials and handshakes (either direction) refused because the peer is not allowed. */
  connectionsRefused: number;
  /** Messages rejected without asking the validator: their sender had sent gossipInvalidMessagesMax invalid ones lately. */
  messagesRefusedUnvalidated: number;
  /** Messages ignored without asking the validator: their publisher is not allowed here (a relay still allows it). */
  messagesFromPeersNotAllowed: number;
}

export function headsTopic(allianceIdHex: string): string {
  if (!/^(?:[0-9a-f]{2})+$/.test(allianceIdHex)) {
    throw new ValidationError('allianceIdHex', `must be lower-case hex bytes, got "${allianceIdHex}"`);
  }
  return `/tongxing/${allianceIdHex}/heads/1`;
}

// Peer keys. A key file holds the libp2p protobuf encoding (type + raw key),
// base64 in text files.

export async function generatePeerKey(): Promise<PrivateKey> {
  return generateKeyPair('Ed25519');
}

export function peerKeyToBytes(key: PrivateKey): Uint8Array {
  return privateKeyToProtobuf(key);
}

/** Throws EncodingError for bytes that are not a libp2p key, ValidationError for a non-Ed25519 key. */
export function peerKeyFromBytes(bytes: Uint8Array): PrivateKey {
  let key: PrivateKey;
  try {
    key = privateKeyFromProtobuf(bytes);
  } catch (err) {
    throw new EncodingError(`not a libp2p private key: ${(err as Error).message}`);
  }
  if (key.type !== 'Ed25519') throw new ValidationError('peerKey', `must be Ed25519, got ${key.type}`);
  return key;
}

export function peerKeyToBase64(key: PrivateKey): string {
  return Buffer.from(peerKeyToBytes(key)).toString('base64');
}

export function peerKeyFromBase64(text: string): PrivateKey {
  return peerKeyFromBytes(Buffer.from(text.trim(), 'base64'));
}

/** The key in `path`, made (mode 0600) when missing: the peer id stays the same across restarts. */
export async function loadOrCreatePeerKey(path: string): Promise<PrivateKey> {
  if (existsSync(path)) return peerKeyFromBase64(readFileSync(path, 'utf8'));
  const key = await generatePeerKey();
  writeFileSync(path, peerKeyToBase64(key) + '\n', { mode: 0o600 });
  return key;
}

/** The peer id (`12D3KooW...`) a node started with this key will have. */
export function peerIdOfKey(key: PrivateKey): string {
  return key.publicKey.toString();
}

// Scoring. The alliance is small, every member is known, and heads are
// validated by SM2 signature and membership, so an invalid message is a bug or
// an attack, never noise. Score of a peer that sent n invalid messages lately,
// before any first-delivery credit (at most +10, topicScoreCap):
//   n=1: -20  -> below gossipThreshold: no IHAVE/IWANT exchanged with it
//   n=2: -80  -> below publishThreshold: our own publishes skip it
//   n=3: -180 -> below graylistThreshold: all its RPCs are dropped unread,
//               whatever its credit (n = gossipInvalidMessagesMax)
// gossipsub rechecks a peer whose score was >= 0 only once a second (its
// accept-from whitelist), so a flood would reach the validator for up to a
// second after n=3; Gossip itself therefore refuses, unvalidated, what such a
// peer sends (InvalidMessages below). gossipsub graylists but does not
// disconnect; cutting a peer off belongs to membership (the connection gater).

/** P4 weight: a peer's invalid-message score is this times the square of its (decaying) count of invalid messages. */
const invalidMessageWeight = -20;
/** P4 decay per second (decayInterval 1 s): half-life ~70 s, so a peer stays graylisted well past a burst, yet recovers after a fix. */
const invalidMessageDecay = 0.99;

export const gossipScoreThresholds: PeerScoreThresholds = {
  gossipThreshold: -10,
  publishThreshold: -50,
  // gossipInvalidMessagesMax - 1 invalid messages are -80, not below it; one more is.
  graylistThreshold: invalidMessageWeight * (gossipInvalidMessagesMax - 1) ** 2,
  acceptPXThreshold: 10, // PX is off (doPX false); kept at the library default
  opportunisticGraftThreshold: 5, // must be reachable under topicScoreCap (10)
};

/**
 * Invalid messages per sending peer, counted and decayed as gossipsub's P4
 * does, so "graylisted" means the same here as in its score. Peers are
 * allowed peers only (members), so the map stays small.
 */
class InvalidMessages {
  readonly #peers = new Map<string, { count: number; atMs: number }>();

  count(peer: string, nowMs: number): number {
    const entry = this.#peers.get(peer);
    if (!entry) return 0;
    entry.count *= invalidMessageDecay ** (Math.max(0, nowMs - entry.atMs) / 1000);
    entry.atMs = nowMs;
    return entry.count;
  }

  add(peer: string, nowMs: number): void {
    this.#peers.set(peer, { count: this.count(peer, nowMs) + 1, atMs: nowMs });
  }

  /** Its invalid messages alone put it below graylistThreshold. */
  graylisted(peer: string, nowMs: number): boolean {
    const count = this.count(peer, nowMs);
    return invalidMessageWeight * count * count < gossipScoreThresholds.graylistThreshold;
  }

  forgetAllBut(allowed: ReadonlySet<string>): void {
    for (const peer of this.#peers.keys()) if (!allowed.has(peer)) this.#peers.delete(peer);
  }
}

function topicScoreParams(): Partial<TopicScoreParams> {
  return {
    topicWeight: 1,
    // P1 time in mesh: off; in a small alliance every peer is in the mesh.
    timeInMeshWeight: 0,
    // P2 first deliveries: modest credit for bringing news first (capped to +10 overall).
    firstMessageDeliveriesWeight: 1,
    firstMessageDeliveriesDecay: 0.9,
    firstMessageDeliveriesCap: 10,
    // P3/P3b mesh delivery deficits: off. Heads come in bursts with long quiet
    // spells, so a quiet honest peer would look like one withholding messages.
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    // P4 invalid messages: value is count^2 (see invalidMessageWeight).
    invalidMessageDeliveriesWeight: invalidMessageWeight,
    invalidMessageDeliveriesDecay: invalidMessageDecay,
  };
}

function scoreParams(topic: string): Partial<PeerScoreParams> {
  return {
    topics: { [topic]: topicScoreParams() as TopicScoreParams }, // gossipsub fills in the defaults
    topicScoreCap: 10,
    // P6 IP colocation: off. Members are authenticated, not sybils, and tests and
    // single-host deployments run many nodes on one IP.
    IPColocationFactorWeight: 0,
    decayInterval: 1000, // the library's minimum
    // Keep counters of a disconnected peer for an hour so reconnecting does not launder its score.
    retainScore: 3600 * 1000,
  };
}

/** gossipsub options for a small alliance (a handful to a few dozen nodes) on low-latency links. */
function gossipsubOptions(topic: string, heartbeatIntervalMs: number, messageBytesMax: number): Parameters<typeof gossipsub>[0] {
  return {
    // Mesh degree: with up to ~12 peers the mesh is nearly everyone, i.e. close
    // to flooding, which gives one-hop latency; larger alliances still get
    // O(log N) rounds. Dout < Dlo and <= D/2 as the spec requires.
    D: 8,
    Dlo: 6,
    Dhi: 12,
    Dout: 3,
    Dlazy: 8,
    // Heartbeat: mesh repair and IHAVE gossip run per heartbeat; 500 ms forms the
    // mesh quickly after (re)connects and costs nothing at this scale.
    heartbeatInterval: heartbeatIntervalMs,
    // Message cache in heartbeats: keep 5 s of messages for IWANT, gossip the last 1.5 s.
    mcacheLength: Math.max(5, Math.ceil(5000 / heartbeatIntervalMs)),
    mcacheGossip: Math.max(3, Math.ceil(1500 / heartbeatIntervalMs)),
    // Only Tongxing nodes speak on this network: no floodsub, no peer exchange.
    fallbackToFloodsub: false,
    doPX: false,
    // Our own publishes go to every subscribed peer (not just the mesh): lowest latency.
    floodPublish: true,
    // A head published before any peer has subscribed is not an error; anti-entropy repairs it.
    allowPublishToZeroTopicPeers: true,
    emitSelf: false,
    // Signed with the libp2p key, so `fromPeer` is authenticated end to end.
    globalSignaturePolicy: StrictSign,
    allowedTopics: [topic],
    // One RPC frame holds at most a message plus control traffic.
    maxInboundDataLength: messageBytesMax + 64 * 1024,
    scoreParams: scoreParams(topic),
    scoreThresholds: gossipScoreThresholds,
  };
}

const verdicts: Record<GossipVerdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  reject: TopicValidatorResult.Reject,
  ignore: TopicValidatorResult.Ignore,
};

type GossipNode = Libp2p<{ identify: Identify; pubsub: GossipSub }>;

export class Gossip {
  readonly topic: string;
  private readonly init: GossipInit;
  private readonly bootstrap: readonly Multiaddr[];
  private readonly messageBytesMax: number;
  private privateKey: PrivateKey | undefined;
  private node: GossipNode | undefined;
  private log: Logger | undefined;
  private readonly bootstrapConnections = new Map<string, Connection>();
  private dialRound: Promise<void> | undefined;
  private dialTimer: ReturnType<typeof setInterval> | undefined;
  private stopping: AbortController | undefined;
  private allowed: ReadonlySet<string>;
  private readonly invalid = new InvalidMessages();
  /** Per sending peer, the end of its queue of messages being validated. */
  private readonly validating = new Map<string, Promise<unknown>>();
  readonly counters: GossipCounters = { connectionsRefused: 0, messagesRefusedUnvalidated: 0, messagesFromPeersNotAllowed: 0 };

  constructor(init: GossipInit) {
    this.init = init;
    this.topic = headsTopic(init.allianceIdHex);
    this.bootstrap = (init.bootstrap ?? []).map((address) => multiaddr(address));
    this.messageBytesMax = init.messageBytesMax ?? gossipMessageBytesMax;
    this.privateKey = init.privateKey;
    this.allowed = new Set(init.allowedPeerIds);
  }

  /**
   * Replaces the allowed peer ids (the membership changed) and closes every
   * connection of a peer no longer among them; from now on the gater refuses
   * its dials and handshakes. Resolves with the number of peers disconnected.
   * May be called before start().
   */
  async allowPeers(peerIds: Iterable<string>): Promise<number> {
    const allowed = new Set(peerIds);
    this.allowed = allowed;
    this.invalid.forgetAllBut(allowed);
    const node = this.node;
    if (node === undefined) return 0;
    const gone = new Map<string, PeerId>();
    for (const connection of node.getConnections()) {
      const peer = connection.remotePeer;
      if (!allowed.has(peer.toString())) gone.set(peer.toString(), peer);
    }
    await Promise.all([...gone.values()].map((peer) => node.hangUp(peer).catch((err: unknown) => this.log?.error('closing the connection of %p failed - %e', peer, err))));
    if (gone.size > 0) this.log?.('disconnected %d peers no longer allowed', gone.size);
    return gone.size;
  }

  /** Peer ids with an open connection to this node. */
  connectedPeers(): string[] {
    return [...new Set(this.started('connectedPeers').getConnections().map((c) => c.remotePeer.toString()))];
  }

  /** Refuses, at each hook where the remote peer id is known, every peer not allowed now. */
  private gater(): ConnectionGater {
    const deny = (peer: PeerId): boolean => {
      const id = peer.toString();
      if (this.allowed.has(id) && !this.invalid.graylisted(id, Date.now())) return false;
      this.counters.connectionsRefused++;
      this.log?.('refused a connection with %p: %s', peer, this.allowed.has(id) ? 'graylisted for invalid messages' : 'not an allowed gossip peer');
      return true;
    };
    return {
      // Outbound: before dialling a known peer id (bootstrap addresses carry one), or as soon as the handshake names it.
      denyDialPeer: deny,
      denyOutboundConnection: deny,
      denyOutboundEncryptedConnection: deny,
      // Inbound: the first hook that knows the remote peer id (after the Noise handshake, before any stream).
      denyInboundEncryptedConnection: deny,
      // Again once upgraded: the allowed set may have changed during the upgrade.
      denyInboundUpgradedConnection: deny,
      denyOutboundUpgradedConnection: deny,
    };
  }

  /**
   * Listens, subscribes, and makes one dial attempt at every bootstrap peer
   * before returning (each bounded by dialTimeoutMs); afterwards peers that are
   * not connected are redialled every dialRetryIntervalMs until stop().
   */
  async start(): Promise<void> {
    assert(this.node === undefined, 'Gossip.start: already started');
    this.privateKey ??= await generatePeerKey();
    const heartbeatIntervalMs = this.init.heartbeatIntervalMs ?? 500;
    const node: GossipNode = await createLibp2p({
      privateKey: this.privateKey,
      addresses: { listen: [this.init.listen ?? '/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: { dialTimeout: this.init.dialTimeoutMs ?? 5000 },
      connectionGater: this.gater(),
      services: {
        identify: identify(),
        pubsub: gossipsub(gossipsubOptions(this.topic, heartbeatIntervalMs, this.messageBytesMax)),
      },
      start: false,
    });
    const log = node.logger.forComponent('tongxing:gossip');
    this.log = log;
    const pubsub = node.services.pubsub;
    pubsub.topicValidators.set(this.topic, (propagationSource, message) => this.validate(propagationSource.toString(), message, log));
    // A connection that finished its upgrade just as allowPeers() ran is closed here.
    node.addEventListener('connection:open', (event) => {
      const connection = event.detail;
      if (!this.allowed.has(connection.remotePeer.toString())) void connection.close().catch(() => connection.abort(new Error('not an allowed gossip peer')));
    });
    pubsub.addEventListener('message', (event) => this.deliver(event.detail, log));
    try {
      await node.start();
      pubsub.subscribe(this.topic);
    } catch (err) {
      await node.stop(); // e.g. the listen port is taken: release whatever did start
      throw err;
    }
    this.node = node;
    this.stopping = new AbortController();
    const stopping = this.stopping.signal;
    await this.startDialRound(node, stopping);
    this.dialTimer = setInterval(() => {
      if (this.dialRound === undefined) void this.startDialRound(node, stopping); // else the last round is still running
    }, this.init.dialRetryIntervalMs ?? 2000);
  }

  /** Closes every connection and listener; cancels dials and timers. Idempotent. */
  async stop(): Promise<void> {
    const node = this.node;
    if (node === undefined) return;
    clearInterval(this.dialTimer);
    this.dialTimer = undefined;
    this.stopping?.abort();
    await this.dialRound;
    await node.stop();
    this.bootstrapConnections.clear();
    this.node = undefined;
    this.stopping = undefined;
  }

  /**
   * Announces `payload` to the alliance. Resolves with the number of peers it
   * was sent to directly (0 when none are subscribed yet: not an error).
   * Throws LimitError above messageBytesMax.
   */
  async publish(payload: Uint8Array): Promise<number> {
    const node = this.started('publish');
    if (payload.byteLength > this.messageBytesMax) {
      throw new LimitError(`gossip payload is ${payload.byteLength} bytes, above messageBytesMax ${this.messageBytesMax}`);
    }
    const result = await node.services.pubsub.publish(this.topic, payload);
    return result.recipients.length;
  }

  /** Connected peers subscribed to the alliance topic. */
  peers(): number {
    return this.started('peers').services.pubsub.getSubscribers(this.topic).length;
  }

  get peerId(): string {
    return this.started('peerId').peerId.toString();
  }

  /** Listen addresses, each ending in `/p2p/<peerId>`, for other nodes' bootstrap lists. */
  addresses(): string[] {
    return this.started('addresses').getMultiaddrs().map((address) => address.toString());
  }

  /**
   * Peers in our mesh for the topic: those we forward others' messages to.
   * A peer subscribed less than a heartbeat ago may not be in it yet, and a
   * message forwarded in that window never reaches it by gossip (IHAVE goes
   * only to non-mesh peers); anti-entropy repairs such misses.
   */
  meshPeers(): number {
    return this.implementation('meshPeers').getMeshPeers(this.topic).length;
  }

  /** gossipsub's score of a peer (for metrics and tests); below gossipScoreThresholds.graylistThreshold it is ignored. */
  peerScore(peerId: string): number {
    return this.implementation('peerScore').getScore(peerId);
  }

  /** The GossipSub interface omits these; the implementation class (not exported) has them. */
  private implementation(method: string): { getScore(peerId: string): number; getMeshPeers(topic: string): string[] } {
    return this.started(method).services.pubsub as unknown as ReturnType<Gossip['implementation']>;
  }

  private started(method: string): GossipNode {
    assert(this.node !== undefined, `Gossip.${method}: not started`);
    return this.node;
  }

  /**
   * Validates the messages of one sending peer one at a time, so the count of
   * its invalid messages is current when its next message is judged: however
   * many arrive at once, at most gossipInvalidMessagesMax invalid ones reach
   * the validator before the rest are refused unread.
   */
  private validate(via: string, message: Message, log: Logger): Promise<TopicValidatorResult> {
    const run = (this.validating.get(via) ?? Promise.resolve()).then(() => this.judge(via, message, log));
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.validating.set(via, tail);
    void tail.then(() => {
      if (this.validating.get(via) === tail) this.validating.delete(via);
    });
    return run;
  }

  private async judge(via: string, message: Message, log: Logger): Promise<TopicValidatorResult> {
    const result = await this.verdict(via, message, log);
    // Counted like gossipsub's P4, which every Reject also raises.
    if (result === TopicValidatorResult.Reject) {
      this.invalid.add(via, Date.now());
      // Graylisted: hang up, and the gater refuses it until its count decays. Even refused unread, each
      // message it sends costs this node its decryption and gossipsub's signature check.
      if (this.invalid.graylisted(via, Date.now())) {
        for (const connection of this.node?.getConnections() ?? []) {
          if (connection.remotePeer.toString() === via) void connection.close().catch(() => undefined);
        }
      }
    }
    return result;
  }

  private async verdict(via: string, message: Message, log: Logger): Promise<TopicValidatorResult> {
    if (!this.allowed.has(via)) return TopicValidatorResult.Ignore; // being disconnected (allowPeers)
    if (this.invalid.graylisted(via, Date.now())) {
      this.counters.messagesRefusedUnvalidated++;
      return TopicValidatorResult.Reject;
    }
    // StrictSign makes gossipsub drop unsigned messages before this point.
    if (message.type !== 'signed') return TopicValidatorResult.Reject;
    if (message.data.byteLength > this.messageBytesMax) return TopicValidatorResult.Reject;
    const from = message.from.toString();
    // Published by a peer this node does not (or no longer) allow: not forwarded,
    // but the relay is not blamed, as it may know of an admission this node has not applied.
    if (!this.allowed.has(from)) {
      this.counters.messagesFromPeersNotAllowed++;
      return TopicValidatorResult.Ignore;
    }
    try {
      return verdicts[await this.init.validate(message.data, from, via)];
    } catch (err) {
      // A throwing validator is our bug, not the sender's fault: do not penalise it.
      log.error('validator threw on a message from %s - %e', message.from, err);
      return TopicValidatorResult.Ignore;
    }
  }

  private deliver(message: Message, log: Logger): void {
    if (message.topic !== this.topic || message.type !== 'signed' || this.init.onMessage === undefined) return;
    const from = message.from;
    Promise.resolve()
      .then(() => this.init.onMessage?.(message.data, from.toString()))
      .catch((err: unknown) => log.error('onMessage failed for a message from %s - %e', from, err));
  }

  private startDialRound(node: GossipNode, signal: AbortSignal): Promise<void> {
    this.dialRound = this.dialBootstrapPeers(node, signal).finally(() => {
      this.dialRound = undefined;
    });
    return this.dialRound;
  }

  /** Never rejects: failed dials are logged and retried next round. */
  private async dialBootstrapPeers(node: GossipNode, signal: AbortSignal): Promise<void> {
    const self: PeerId = node.peerId;
    await Promise.all(
      this.bootstrap.map(async (address) => {
        const key = address.toString();
        if (this.bootstrapConnections.get(key)?.status === 'open') return;
        // A shared bootstrap list may include this node itself.
        if (address.getComponents().some((c) => c.name === 'p2p' && c.value === self.toString())) return;
        try {
          this.bootstrapConnections.set(key, await node.dial(address, { signal }));
        } catch (err) {
          if (!signal.aborted) this.log?.('dial %s failed, will retry: %s', key, dialErrorText(err));
        }
      }),
    );
  }
}

/** One line per failed dial: libp2p wraps per-address failures in an AggregateError. */
function dialErrorText(err: unknown): string {
  const inner = err instanceof AggregateError ? err.errors : [err];
  return inner.map((e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e))).join('; ');
}

// ---- The alliance's gossip: its members and the replica ----

/**
 * Gossip peer id -> member node id, for every active member whose record
 * names its libp2p peer id (`libp2pPeerId`), except this node: the peers
 * allowed to connect. A suspended or removed member is not among them.
 */
export function memberPeerIds(members: Membership, selfNodeId: string): Map<string, string> {
  const peers = new Map<string, string>();
  for (const member of members.active()) {
    if (member.nodeId !== selfNodeId && member.libp2pPeerId) peers.set(member.libp2pPeerId, member.nodeId);
  }
  return peers;
}

/**
 * A transport's `announce` (GrpcPeerTransport) over gossip: encodes and
 * publishes, best effort. A publish that fails (larger than
 * gossipMessageBytesMax, gossip not started or stopping) goes to `onFailure`
 * and is never thrown: anti-entropy carries what gossip did not.
 */
export function gossipAnnouncer(gossip: () => Gossip | undefined, onFailure: (error: unknown) => void): (announcement: Announcement) => void {
  return (announcement) => {
    void gossip()?.publish(Announcement.encode(announcement).finish()).catch(onFailure);
  };
}

/**
 * The alliance's validator: decodes an Announcement and hands it to the
 * replica with the relaying and the publishing member, so the replica's
 * publisher rules apply (own heads only, no replays, a signature budget).
 * An undecodable payload is rejected; a peer that is not a member (the
 * membership changed while the message was in flight) is ignored.
 */
export function announcementValidator(
  replica: Pick<Replica, 'receiveAnnouncement'>,
  memberOfPeer: (peerId: string) => string | undefined,
): GossipValidator {
  return async (payload, fromPeer, viaPeer) => {
    const publisher = memberOfPeer(fromPeer);
    const relay = memberOfPeer(viaPeer);
    if (publisher === undefined || relay === undefined) return 'ignore';
    let announcement: Announcement;
    try {
      announcement = Announcement.decode(payload);
    } catch {
      return 'reject';
    }
    return replica.receiveAnnouncement(announcement, relay, publisher);
  };
}
