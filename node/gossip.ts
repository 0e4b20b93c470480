// Announcements over libp2p gossipsub: one node, one alliance topic, opaque
// payloads (signed heads and equivocation proofs, encoded by the caller).
// Gossip only announces; lost or rejected announcements are repaired by pull
// and anti-entropy over gRPC (DESIGN.md, "Replication").

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { gossipsub, StrictSign, TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub';
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score';
import { identify, type Identify } from '@libp2p/identify';
import type { Connection, Libp2p, Logger, PeerId, PrivateKey } from '@libp2p/interface';
import { noise } from '@libp2p/noise';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { assert, EncodingError, LimitError, ValidationError } from '../federation/errors.js';
import { gossipMessageBytesMax } from '../federation/limits.js';

export type GossipVerdict = 'accept' | 'reject' | 'ignore';

/**
 * Decides whether an announcement is delivered and forwarded. 'reject' means
 * invalid (the sender loses score); 'ignore' means not useful but not the
 * sender's fault (e.g. stale). `fromPeer` is the publishing peer id, whose
 * libp2p signature gossipsub has already checked (StrictSign).
 * Should resolve quickly: gossipsub holds the message until it does.
 */
export type GossipValidator = (payload: Uint8Array, fromPeer: string) => GossipVerdict | Promise<GossipVerdict>;

/** Called once per accepted announcement, in arrival order, not awaited (never for our own publishes). */
export type GossipHandler = (payload: Uint8Array, fromPeer: string) => void | Promise<void>;

export interface GossipInit {
  /** Hex alliance id; selects the topic `/tongxing/<allianceIdHex>/heads/1`. */
  allianceIdHex: string;
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

export { gossipMessageBytesMax };

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
//               whatever its credit
// gossipsub graylists but does not disconnect; cutting a peer off belongs to
// membership (connection gating), not to scoring.

export const gossipScoreThresholds: PeerScoreThresholds = {
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80,
  acceptPXThreshold: 10, // PX is off (doPX false); kept at the library default
  opportunisticGraftThreshold: 5, // must be reachable under topicScoreCap (10)
};

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
    // P4 invalid messages: value is count^2; decays 1% per second (half-life ~70 s)
    // so a peer stays graylisted well past a burst, yet recovers after a fix.
    invalidMessageDeliveriesWeight: -20,
    invalidMessageDeliveriesDecay: 0.99,
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

  constructor(init: GossipInit) {
    this.init = init;
    this.topic = headsTopic(init.allianceIdHex);
    this.bootstrap = (init.bootstrap ?? []).map((address) => multiaddr(address));
    this.messageBytesMax = init.messageBytesMax ?? gossipMessageBytesMax;
    this.privateKey = init.privateKey;
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
      services: {
        identify: identify(),
        pubsub: gossipsub(gossipsubOptions(this.topic, heartbeatIntervalMs, this.messageBytesMax)),
      },
      start: false,
    });
    const log = node.logger.forComponent('tongxing:gossip');
    const pubsub = node.services.pubsub;
    pubsub.topicValidators.set(this.topic, (_propagationSource, message) => this.validate(message, log));
    pubsub.addEventListener('message', (event) => this.deliver(event.detail, log));
    try {
      await node.start();
      pubsub.subscribe(this.topic);
    } catch (err) {
      await node.stop(); // e.g. the listen port is taken: release whatever did start
      throw err;
    }
    this.node = node;
    this.log = log;
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

  private async validate(message: Message, log: Logger): Promise<TopicValidatorResult> {
    // StrictSign makes gossipsub drop unsigned messages before this point.
    if (message.type !== 'signed') return TopicValidatorResult.Reject;
    if (message.data.byteLength > this.messageBytesMax) return TopicValidatorResult.Reject;
    try {
      return verdicts[await this.init.validate(message.data, message.from.toString())];
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
