// gossipsub as the simulator models it, per node: a bounded seen-cache keyed
// by message id, the validator (the replica's receiveAnnouncement) run before
// forwarding, forwarding of accepted messages to mesh peers except the one it
// came from, and the peer scoring of node/gossip.ts reduced to what changes
// delivery: the invalid-message penalty (P4) that graylists a peer.
//
// Not modelled: IHAVE/IWANT lazy gossip and opportunistic grafting (repair is
// left to anti-entropy, which makes the figures pessimistic), mesh churn other
// than crashes, and gossipsub's per-peer send queues.

import type { Announcement } from '../gen/tongxing/federation/v1/peer.js';
import type { Verdict } from '../federation/replica.js';
import type { NodeId } from './core/index.js';
import { decodeAnnouncement, type GossipPayload } from './wire.js';

/** Bounds and scoring of one node's gossip router. */
export interface GossipParams {
  /** Message ids remembered (gossipsub's seenTTL), so a message is validated and forwarded once. */
  readonly seenTtlMs: number;
  /** And at most this many ids: under a flood the oldest are forgotten first. */
  readonly seenEntriesMax: number;
  /** P4 weight: a peer's score is weight x (invalid messages)^2 (node/gossip.ts: -20). */
  readonly invalidWeight: number;
  /** Per second the invalid-message counter is multiplied by this (node/gossip.ts: 0.99). */
  readonly invalidDecayPerSecond: number;
  /** Below this score every message from the peer is dropped unread (node/gossip.ts: -80). */
  readonly graylistThreshold: number;
  /** Below this score our own publishes and forwards skip the peer (node/gossip.ts: -50). */
  readonly publishThreshold: number;
  /** Own publishes go to every connected peer, not only the mesh (gossipsub floodPublish; node/gossip.ts sets it). */
  readonly floodPublish: boolean;
}

export const gossipParamsDefault: GossipParams = {
  seenTtlMs: 120_000,
  seenEntriesMax: 20_000,
  invalidWeight: -20,
  invalidDecayPerSecond: 0.99,
  graylistThreshold: -80,
  publishThreshold: -50,
  floodPublish: false,
};

export interface GossipStats {
  /** Messages handed to a node's router (every copy). */
  deliveries: number;
  /** Copies whose id the router had not seen: validated. */
  firstDeliveries: number;
  duplicates: number;
  /** Dropped unread because the sender is graylisted. */
  graylisted: number;
  accepted: number;
  rejected: number;
  ignored: number;
  /** First deliveries of announcements that carried entries (a record batch). */
  recordFirstDeliveries: number;
  recordDeliveries: number;
}

export function emptyGossipStats(): GossipStats {
  return { deliveries: 0, firstDeliveries: 0, duplicates: 0, graylisted: 0, accepted: 0, rejected: 0, ignored: 0, recordFirstDeliveries: 0, recordDeliveries: 0 };
}

export interface GossipRouterComponents {
  readonly self: NodeId;
  readonly params: GossipParams;
  readonly stats: GossipStats;
  nowMs(): number;
  /** Mesh peers now (a live view). */
  meshPeers(): readonly NodeId[];
  /** Every other member, for flood publishing. */
  allPeers(): readonly NodeId[];
  send(to: NodeId, payload: GossipPayload): void;
  /** The validator: the replica's receiveAnnouncement. */
  validate(announcement: Announcement, from: NodeId): Promise<Verdict>;
  /** False for a withholding member: validates (to learn) but forwards nothing. */
  readonly forwards: boolean;
  /** Whether this incarnation is still the live one (a crash makes pending validations moot). */
  alive(): boolean;
}

interface PeerScore {
  invalid: number;
  updatedMs: number;
}

export class GossipRouter {
  readonly #c: GossipRouterComponents;
  /** id -> first seen (ms); insertion order is time order, so expiry pops from the front. */
  readonly #seen = new Map<string, number>();
  readonly #scores = new Map<NodeId, PeerScore>();
  /** Highest seen-cache size reached (the flooding invariant checks it against the bound). */
  seenSizeMax = 0;

  constructor(components: GossipRouterComponents) {
    this.#c = components;
  }

  get seenSize(): number {
    return this.#seen.size;
  }

  get scoredPeers(): number {
    return this.#scores.size;
  }

  /** Publishes our own message: marks it seen and sends it to the mesh (or every peer with floodPublish). */
  publish(payload: GossipPayload): void {
    this.#remember(payload.id);
    const peers = this.#c.params.floodPublish ? this.#c.allPeers() : this.#c.meshPeers();
    const scored = this.#scores.size > 0;
    for (const peer of peers) if (!scored || this.score(peer) >= this.#c.params.publishThreshold) this.#c.send(peer, payload);
  }

  /**
   * A copy of a message arrived from `from`. Duplicates and graylisted
   * senders are dropped synchronously (most copies are duplicates: no
   * promise for them); a new message is validated, then forwarded.
   */
  receive(from: NodeId, payload: GossipPayload): Promise<void> | undefined {
    const { stats, params } = this.#c;
    stats.deliveries++;
    const carriesRecords = payload.label === 'record';
    if (carriesRecords) stats.recordDeliveries++;
    if (this.#scores.size > 0 && this.score(from) < params.graylistThreshold) {
      stats.graylisted++;
      return undefined;
    }
    if (this.#seen.has(payload.id)) {
      stats.duplicates++;
      return undefined;
    }
    this.#remember(payload.id);
    stats.firstDeliveries++;
    if (carriesRecords) stats.recordFirstDeliveries++;
    return this.#validateAndForward(from, payload);
  }

  async #validateAndForward(from: NodeId, payload: GossipPayload): Promise<void> {
    const { stats, params } = this.#c;
    const announcement = decodeAnnouncement(payload.bytes);
    let verdict: Verdict;
    if (announcement === undefined) {
      verdict = 'reject';
    } else {
      verdict = await this.#c.validate(announcement, from);
      if (!this.#c.alive()) return;
    }
    if (verdict === 'reject') {
      stats.rejected++;
      this.#penalise(from);
      return;
    }
    if (verdict === 'ignore') {
      stats.ignored++;
      return;
    }
    stats.accepted++;
    if (!this.#c.forwards) return;
    const scored = this.#scores.size > 0;
    for (const peer of this.#c.meshPeers()) {
      if (peer !== from && (!scored || this.score(peer) >= params.publishThreshold)) this.#c.send(peer, payload);
    }
  }

  /** The peer's score now: invalidWeight x invalid^2, the counter decayed since it last changed. */
  score(peer: NodeId): number {
    const entry = this.#scores.get(peer);
    if (entry === undefined) return 0;
    const invalid = this.#decayed(entry);
    return this.#c.params.invalidWeight * invalid * invalid;
  }

  #decayed(entry: PeerScore): number {
    const seconds = (this.#c.nowMs() - entry.updatedMs) / 1000;
    return seconds <= 0 ? entry.invalid : entry.invalid * Math.pow(this.#c.params.invalidDecayPerSecond, seconds);
  }

  #penalise(peer: NodeId): void {
    const entry = this.#scores.get(peer);
    const now = this.#c.nowMs();
    if (entry === undefined) {
      this.#scores.set(peer, { invalid: 1, updatedMs: now });
    } else {
      entry.invalid = this.#decayed(entry) + 1;
      entry.updatedMs = now;
    }
  }

  #remember(id: string): void {
    const { seenTtlMs, seenEntriesMax } = this.#c.params;
    const now = this.#c.nowMs();
    const seen = this.#seen;
    for (const [oldest, atMs] of seen) {
      if (seen.size < seenEntriesMax && atMs > now - seenTtlMs) break;
      seen.delete(oldest);
    }
    seen.set(id, now);
    if (seen.size > this.seenSizeMax) this.seenSizeMax = seen.size;
  }
}
