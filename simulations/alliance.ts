// N simulated city nodes, each a real Replica over a MemoryStore, wired to
// the simulated network by the same adapters a node process has (peer calls,
// gossip, anti-entropy and beacon rounds), with faults the scenarios inject:
// crash and restart, pause, partitions and link faults (core/network.ts).
//
// Determinism: every input comes from one seed. Keys are derived from seeded
// streams, and SM2 signing nonces from each node's seeded `signing` stream,
// passed as the replica's Random like any other randomness: every signature,
// and so every message size, is a function of the seed.

import type { Announcement } from '../gen/tongxing/federation/v1/peer.js';
import type { Record as TongxingRecord } from '../gen/tongxing/records/v1/records.js';
import { curveOrder, keyPairFromPrivateKey, nodeIdOf, type Sm2KeyPair } from '../federation/crypto/sm2.js';
import { sm3 } from '../federation/crypto/sm3.js';
import { assert, TongxingError, ValidationError } from '../federation/errors.js';
import { Membership, type Member } from '../federation/membership.js';
import { Replica, type ReplicaEvent } from '../federation/replica.js';
import { MemoryStore } from '../federation/store/memory.js';
import { Mesh, Network, Prng, Scheduler, VirtualTimers, meshParamsDefault, type LinkConfig, type MeshParams, type NodeId, type Reply, type Seed } from './core/index.js';
import { emptyGossipStats, GossipRouter, gossipParamsDefault, type GossipParams, type GossipStats } from './gossip.js';
import { SimStore } from './store.js';
import { emptyTransportStats, SimPeerServer, SimTransport, type PeerHandler, type TransportStats } from './transport.js';
import { encodeAnnouncement, gossipPayload, messageBytes, type GossipLabel, type GossipPayload, type PeerMessage } from './wire.js';

/** Virtual time 0 is this wall-clock instant on every node (plus its skew). */
export const epochMs = Date.UTC(2026, 0, 5, 1, 0, 0);

export interface AllianceConfig {
  readonly seed: Seed;
  readonly nodes: number;
  readonly link: Partial<LinkConfig>;
  /** node/config.ts default: 1000. Each round waits for the last, then jitters x0.75..1.25 as node/node.ts does. */
  readonly antiEntropyIntervalMs: number;
  /** node/config.ts default: 5000. Every beacon is a signature (~1 ms CPU) and a gossip flood of N x D messages. */
  readonly beaconIntervalMs: number;
  readonly gossip: GossipParams;
  readonly mesh: MeshParams;
  /** Each node's clock is off by a uniform amount in +-this. */
  readonly clockSkewMsMax: number;
  /**
   * Keys are derived from this name and the node index, not from the seed by
   * default: SM2 precomputation (~15 ms per key) is then shared by every run
   * in a process. Node ids (and so author order) are the same in every run.
   */
  readonly keySeed: string;
}

export const allianceConfigDefault: Omit<AllianceConfig, 'seed' | 'nodes'> = {
  link: {},
  antiEntropyIntervalMs: 1000,
  beaconIntervalMs: 10_000,
  gossip: gossipParamsDefault,
  mesh: meshParamsDefault,
  clockSkewMsMax: 50,
  keySeed: 'tongxing-sim-keys',
};

/** Byzantine behaviour plugged into a node: replaces parts of the honest adapters. */
export interface Misbehaviour {
  readonly name: string;
  /** False: the node validates gossip (to keep learning) but forwards nothing. */
  readonly forwardsGossip: boolean;
  /** Answers a peer call instead of the honest server; returns false to let the honest server answer. */
  onRequest?(node: SimNode, from: NodeId, request: PeerMessage, reply: Reply<PeerMessage>): boolean;
  /** What the server calls instead of the replica's handlers. */
  handler?(node: SimNode, replica: Replica): PeerHandler;
  /** After each (re)start, with the replica open: set up timers on node.timers. */
  onStart?(node: SimNode): void;
}

/** What metrics and invariant checkers hear from the alliance. */
export interface AllianceObserver {
  onReplicaEvent?(node: SimNode, event: ReplicaEvent): void;
  /** An honest write was acknowledged (durable and announced): `seq` in the author's log, written at `calledAtMs`. */
  onWrite?(node: SimNode, seq: number, record: TongxingRecord, calledAtMs: number): void;
  onFault?(description: string): void;
}

export interface TrafficStats {
  readonly gossip: GossipStats;
  readonly transport: TransportStats;
  /** Gossip copies sent, by what the publisher meant them to be. */
  readonly gossipSent: Record<GossipLabel, { messages: number; bytes: number }>;
}

export type NodeStatus = 'up' | 'paused' | 'down';

const keyCache = new Map<string, Sm2KeyPair>();

/** A valid SM2 key pair from a name (d uniform in [1, n-2]); memoised per name. */
export function deriveKeyPair(name: string): Sm2KeyPair {
  let keyPair = keyCache.get(name);
  if (keyPair === undefined) {
    const prng = new Prng(name);
    for (;;) {
      const d = Buffer.alloc(32);
      for (let i = 0; i < 32; i += 4) d.writeUInt32BE(prng.next(), i);
      const value = BigInt('0x' + d.toString('hex'));
      if (value >= 1n && value <= curveOrder - 2n) {
        keyPair = keyPairFromPrivateKey(d);
        break;
      }
    }
    keyCache.set(name, keyPair);
  }
  return keyPair;
}

function labelOf(announcement: Announcement): GossipLabel {
  if (announcement.kind?.$case === 'proof') return 'proof';
  return announcement.kind?.value.entries.length ? 'record' : 'beacon';
}

export class SimNode {
  readonly alliance: Alliance;
  readonly index: number;
  readonly id: NodeId;
  readonly label: string;
  readonly keyPair: Sm2KeyPair;
  readonly timers: VirtualTimers;
  /** This node's own stream: anti-entropy peer choice, jitter, its misbehaviour. */
  readonly rng: Prng;
  /** SM2 signing nonces of this node (its replica's and its misbehaviours'). */
  readonly signing: Prng;
  misbehaviour: Misbehaviour | undefined;
  /** A Byzantine node gone quiet: its replica runs no rounds and announces nothing (set by its misbehaviour). */
  silent = false;
  /** This node's wall clock in whole ms, as Date.now() gives it. */
  readonly clock = { nowMs: (): number => Math.floor(this.timers.nowMs()) };
  store: SimStore;
  status: NodeStatus = 'down';
  incarnation = 0;
  restarts = 0;
  replica: Replica | undefined;
  gossip: GossipRouter | undefined;
  transport: SimTransport | undefined;
  server: SimPeerServer | undefined;

  constructor(alliance: Alliance, index: number, keyPair: Sm2KeyPair, clockOffsetMs: number) {
    this.alliance = alliance;
    this.index = index;
    this.keyPair = keyPair;
    this.id = nodeIdOf(keyPair.publicKey);
    this.label = `city-${String(index).padStart(3, '0')}`;
    this.timers = new VirtualTimers(alliance.scheduler, { clockOffsetMs });
    this.rng = alliance.rng.fork(`node/${index}`);
    this.signing = this.rng.fork('signing');
    this.store = new SimStore(new MemoryStore());
  }

  get honest(): boolean {
    return this.misbehaviour === undefined;
  }

  /** Opens the replica on the node's store and joins the network and the mesh; with `begin`, the rounds too. */
  async start(begin = true): Promise<void> {
    assert(this.status === 'down', `${this.label}: start while ${this.status}`);
    const alliance = this.alliance;
    const incarnation = ++this.incarnation;
    const alive = (): boolean => this.incarnation === incarnation && this.status !== 'down';
    const transport = new SimTransport({
      self: this.id,
      network: alliance.network,
      timers: this.timers,
      stats: alliance.traffic.transport,
      announce: (announcement) => {
        if (alive() && !this.silent) this.publish(announcement, labelOf(announcement));
      },
    });
    const replica = await Replica.open(
      { allianceId: alliance.allianceId, keyPair: this.keyPair, members: alliance.members },
      {
        store: this.store,
        transport,
        clock: this.clock,
        random: { int: (maxExclusive) => this.rng.int(0, maxExclusive), bytes: (length) => this.signing.bytes(length) },
        // Events of a crashed incarnation still count: its last commits are on the disk.
        onEvent: (event) => alliance.replicaEvent(this, event),
      },
    );
    assert(this.incarnation === incarnation, `${this.label}: restarted while opening`);
    const forwards = this.misbehaviour?.forwardsGossip ?? true;
    const gossip = new GossipRouter({
      self: this.id,
      params: alliance.config.gossip,
      stats: alliance.traffic.gossip,
      nowMs: () => alliance.scheduler.now,
      meshPeers: () => alliance.mesh.neighbours(this.id),
      allPeers: () => alliance.peerIdsOf(this),
      send: (to, payload) => {
        const bytes = messageBytes(payload);
        const sent = alliance.traffic.gossipSent[payload.label];
        sent.messages++;
        sent.bytes += bytes;
        alliance.network.send(this.id, to, payload, bytes);
      },
      validate: (announcement, from) => replica.receiveAnnouncement(announcement, from),
      forwards,
      alive,
    });
    const handler: PeerHandler = this.misbehaviour?.handler?.(this, replica) ?? replica;
    const server = new SimPeerServer({ self: this.id, timers: this.timers, stats: alliance.traffic.transport, handler, fail: (error) => alliance.scheduler.fail(error) });
    this.replica = replica;
    this.transport = transport;
    this.gossip = gossip;
    this.server = server;
    alliance.network.attach(
      this.id,
      (from, message) => {
        if (message.kind === 'gossip') return gossip.receive(from, message);
        if (message.kind === 'pull-cancel') return server.onCancel(from, message.stream);
        return undefined;
      },
      (from, request, reply) => {
        if (this.misbehaviour?.onRequest?.(this, from, request, reply)) return undefined;
        return server.onRequest(from, request, reply);
      },
    );
    if (!alliance.mesh.has(this.id)) alliance.mesh.join(this.id);
    this.status = 'up';
    if (begin) this.begin();
  }

  /** Starts the anti-entropy and beacon rounds (and any misbehaviour) with a first beacon, as node/node.ts does once it listens. */
  begin(): void {
    const replica = this.replica;
    assert(replica !== undefined && this.status === 'up', `${this.label}: begin while ${this.status}`);
    this.every(this.alliance.config.antiEntropyIntervalMs, this.incarnation, () => replica.antiEntropyRound());
    this.every(this.alliance.config.beaconIntervalMs, this.incarnation, () => replica.beacon());
    replica.beacon();
    this.misbehaviour?.onStart?.(this);
  }

  /** Sends an announcement of this node to the gossip mesh, as its libp2p publish would. */
  publish(announcement: Announcement, label: GossipLabel): void {
    this.publishPayload(gossipPayload(encodeAnnouncement(announcement), label));
  }

  publishPayload(payload: GossipPayload): void {
    if (this.status === 'down' || this.gossip === undefined) return;
    this.gossip.publish(payload);
  }

  /**
   * Runs `task` about every `intervalMs` (x0.75..1.25 from this node's
   * stream), each round after the last one finished, like node/node.ts.
   */
  private every(intervalMs: number, incarnation: number, task: () => Promise<unknown> | void): void {
    if (!(intervalMs > 0 && intervalMs < Infinity)) return;
    const schedule = (): void => {
      if (this.incarnation !== incarnation || this.status === 'down') return;
      this.timers.setTimeout(async () => {
        try {
          if (!this.silent) await task();
        } catch (error) {
          if (this.incarnation === incarnation && this.status !== 'down') throw error; // a bug: fails the run
          return;
        }
        schedule();
      }, Math.round(intervalMs * (0.75 + this.rng.float() / 2)));
    };
    schedule();
  }

  /** The process dies now: its memory, timers, connections and mesh links are gone; the disk stays. */
  crash(): void {
    if (this.status === 'down') return;
    this.alliance.network.crash(this.id);
    this.timers.clearAll();
    this.alliance.mesh.leave(this.id);
    this.status = 'down';
    this.replica = undefined;
    this.gossip = undefined;
    this.transport = undefined;
    this.server = undefined;
  }

  /** Starts a new process on the disk, optionally without its last (unsynced) commit. */
  async restart(loseLastCommit: boolean): Promise<boolean> {
    assert(this.status === 'down', `${this.label}: restart while ${this.status}`);
    const { store, lostCommit } = this.store.reopen(loseLastCommit);
    this.store = store;
    this.restarts++;
    await this.start();
    return lostCommit;
  }

  /** Stops the process for a while (a stopped VM): messages queue, timers wait, then all resume at once. */
  pause(durationMs: number): void {
    if (this.status !== 'up') return;
    this.status = 'paused';
    this.alliance.network.pause(this.id);
    this.timers.pause();
    const incarnation = this.incarnation;
    this.alliance.scheduler.after(durationMs, () => {
      if (this.incarnation !== incarnation || this.status !== 'paused') return;
      this.status = 'up';
      this.alliance.network.resume(this.id);
      this.timers.resume();
    });
  }
}

export class Alliance {
  readonly config: AllianceConfig;
  readonly rng: Prng;
  readonly scheduler = new Scheduler();
  readonly network: Network<PeerMessage>;
  readonly mesh: Mesh;
  readonly allianceId: Buffer;
  readonly members: Membership;
  readonly nodes: SimNode[] = [];
  readonly traffic: TrafficStats = {
    gossip: emptyGossipStats(),
    transport: emptyTransportStats(),
    gossipSent: {
      record: { messages: 0, bytes: 0 },
      beacon: { messages: 0, bytes: 0 },
      proof: { messages: 0, bytes: 0 },
      invalid: { messages: 0, bytes: 0 },
      replay: { messages: 0, bytes: 0 },
    },
  };
  readonly observers: AllianceObserver[] = [];
  /** Honest writes the replica refused (not counted as records). */
  writesRefused = 0;
  readonly #byId = new Map<NodeId, SimNode>();
  readonly #peerIds = new Map<NodeId, NodeId[]>();
  #closed = false;

  constructor(config: AllianceConfig) {
    assert(Number.isSafeInteger(config.nodes) && config.nodes >= 2, `an alliance needs at least 2 nodes, got ${config.nodes}`);
    this.config = config;
    this.rng = new Prng(config.seed);
    this.network = new Network<PeerMessage>({ scheduler: this.scheduler, rng: this.rng.fork('network'), linkConfig: config.link, timeQuantumMs: 1 });
    this.allianceId = sm3(Buffer.from(`tongxing-sim/${this.rng.seed}`));
    const skew = this.rng.fork('clocks');
    for (let i = 0; i < config.nodes; i++) {
      const keyPair = deriveKeyPair(`${config.keySeed}/${i}`);
      const offsetMs = epochMs + Math.round(skew.uniform(-config.clockSkewMsMax, config.clockSkewMsMax));
      const node = new SimNode(this, i, keyPair, offsetMs);
      assert(!this.#byId.has(node.id), `two nodes with id ${node.id}`);
      this.nodes.push(node);
      this.#byId.set(node.id, node);
    }
    const members: Member[] = this.nodes.map((node) => ({ nodeId: node.id, publicKey: node.keyPair.publicKey, city: node.label, regionCode: '530100', endpoints: [] }));
    this.members = new Membership(members);
    this.mesh = Mesh.build(
      this.nodes.map((node) => node.id),
      this.rng.fork('mesh'),
      config.mesh,
    );
  }

  node(id: NodeId): SimNode {
    const node = this.#byId.get(id);
    assert(node !== undefined, `unknown node ${id}`);
    return node;
  }

  has(id: NodeId): boolean {
    return this.#byId.has(id);
  }

  honestNodes(): SimNode[] {
    return this.nodes.filter((node) => node.honest);
  }

  peerIdsOf(node: SimNode): readonly NodeId[] {
    let peers = this.#peerIds.get(node.id);
    if (peers === undefined) {
      peers = this.nodes.filter((other) => other !== node).map((other) => other.id);
      this.#peerIds.set(node.id, peers);
    }
    return peers;
  }

  /** Starts every node at virtual time now: all listen before any sends its first beacon. */
  async startAll(): Promise<void> {
    for (const node of this.nodes) await node.start(false);
    for (const node of this.nodes) node.begin();
  }

  /** An honest write; resolves with the entry's seq once durable and announced. */
  async write(node: SimNode, record: TongxingRecord): Promise<number | undefined> {
    const replica = node.replica;
    if (replica === undefined || node.status !== 'up') return undefined;
    const calledAtMs = this.scheduler.now;
    let seq: number;
    try {
      ({ seq } = await replica.write(record));
    } catch (error) {
      // Refused (e.g. while the node recovers its own log): the caller would retry. An invalid record is the scenario's bug.
      if (!(error instanceof TongxingError) || error instanceof ValidationError) throw error;
      this.writesRefused++;
      return undefined;
    }
    this.scheduler.trace.mixUint32(0x77000000 | node.index);
    this.scheduler.trace.mixUint32(seq);
    for (const observer of this.observers) observer.onWrite?.(node, seq, record, calledAtMs);
    return seq;
  }

  replicaEvent(node: SimNode, event: ReplicaEvent): void {
    if (event.type === 'ingested') {
      const trace = this.scheduler.trace;
      trace.mixUint32(0x1e000000 | node.index);
      trace.mixUint32(this.#byId.get(event.author)?.index ?? 0xffff);
      trace.mixUint32(event.toSeq);
    }
    for (const observer of this.observers) observer.onReplicaEvent?.(node, event);
  }

  fault(description: string): void {
    this.scheduler.trace.mixString(description);
    for (const observer of this.observers) observer.onFault?.(description);
  }

  /** Runs the simulation until virtual time `untilMs`. */
  async runUntil(untilMs: number): Promise<void> {
    assert(!this.#closed, 'alliance is closed');
    await this.scheduler.runUntilAsync(untilMs, 'instant');
  }

  /** The alliance cannot run any more. */
  close(): void {
    this.#closed = true;
  }
}
