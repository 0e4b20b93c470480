import type { EquivocationProof, Head, SignedHead } from '../gen/tongxing/log/v1/log.js';
import type {
  Announcement,
  ExchangeHeadsRequest,
  ExchangeHeadsResponse,
  PullEntriesRequest,
  PullEntriesResponse,
} from '../gen/tongxing/federation/v1/peer.js';
import { EquivocationProof as EquivocationProofCodec } from '../gen/tongxing/log/v1/log.js';
import type { Record } from '../gen/tongxing/records/v1/records.js';
import { nodeIdOf, type Sm2KeyPair } from './crypto/sm2.js';
import { ChainError, LimitError, MembershipError, SignatureError, TongxingError } from './errors.js';
import type { VerifiedGenesis } from './governance/genesis.js';
import { decodeGovRecord, govPrefix } from './governance/records.js';
import { membersWithSnapshot, type VerifiedSnapshot } from './governance/snapshot.js';
import { computeGovernance, governancePolicy, type GovernanceState } from './governance/state.js';
import {
  allianceMembersMax,
  announceBytesMax,
  gossipHeadAgeMsMax,
  gossipVerificationsPerPeerPerSecondMax,
  governanceRecordsMax,
  pullPeersMax,
  rangeEntriesMax,
} from './limits.js';
import { decodeEntry, equalBytes, toHex, zeroHash, type HashedEntry } from './log/entry.js';
import { makeProof, verifyProof } from './log/equivocation.js';
import { verifyHead } from './log/head.js';
import { verifyWithKeys } from './log/signer.js';
import { ForkError, verifyRange } from './log/verify.js';
import { LogWriter } from './log/writer.js';
import type { Membership } from './membership.js';
import { proofKey, proofPrefix, viewPrefix, viewsRebuildKey } from './store/state-keys.js';
import type { StateChange, Store, StoredEntry } from './store/store.js';
import { planViews, prepareViewEntries } from './views/apply.js';
import { openPolicy, type ViewPolicy } from './views/policy.js';
import type { Provenance } from './views/provenance.js';

// The replication core of one node: its own log writer, ingest of other
// members' logs, gossip and anti-entropy decisions. Pure: storage, network,
// time and randomness arrive as components, so the node process and the
// simulator drive this same code.

export interface Clock {
  nowMs(): number;
}

export interface Random {
  /** An integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
}

/** Outbound peer calls. `peer` is a member node id; calls reject when it cannot be reached. */
export interface PeerTransport {
  exchangeHeads(peer: string, request: ExchangeHeadsRequest): Promise<ExchangeHeadsResponse>;
  pullEntries(peer: string, request: PullEntriesRequest): AsyncIterable<PullEntriesResponse>;
  /** Publish on the alliance gossip topic; best effort. */
  announce(announcement: Announcement): void;
}

export type ReplicaEvent =
  | { type: 'ingested'; author: string; fromSeq: number; toSeq: number; source: 'local' | 'gossip' | 'pull' }
  | { type: 'rejected'; peer: string | undefined; reason: string }
  | { type: 'equivocation'; author: string; seq: number }
  | { type: 'pull'; peer: string; author: string; ok: boolean }
  | { type: 'epoch'; epoch: number };

export interface ReplicaInit {
  readonly allianceId: Buffer;
  readonly keyPair: Sm2KeyPair;
  /**
   * Governed alliance: members, roles and trusted CAs follow from the genesis
   * and the governance records in the logs (governance/state.ts), and
   * `members` is replaced as epochs open.
   */
  readonly genesis?: VerifiedGenesis;
  /** The members; with a genesis, start from `new Membership([])` and governance fills it. */
  readonly members: Membership;
  /** Without a genesis: who may write what, and which CAs are trusted. Default: openPolicy. */
  readonly policy?: ViewPolicy;
  /** This node's id when its key was rotated (node ids stay those of the first key). */
  readonly nodeId?: string;
  /** A key this node switches to, by itself, once governance applies its rotation to it. */
  readonly nextKeyPair?: Sm2KeyPair;
  /** A member's signed membership at a later epoch: whom to ask until this node's own governance state catches up. */
  readonly snapshot?: Pick<VerifiedSnapshot, 'epoch' | 'members'>;
}

export interface ReplicaComponents {
  readonly store: Store;
  readonly transport: PeerTransport;
  readonly clock: Clock;
  readonly random: Random;
  readonly onEvent?: (event: ReplicaEvent) => void;
}

export type Verdict = 'accept' | 'reject' | 'ignore';

interface Tip {
  seq: number;
  hash: Uint8Array;
}

const emptyLog: Tip = { seq: 0, hash: zeroHash };

/**
 * The hlc from which two governance states judge entries differently: the
 * start of the first epoch where they part. Entries at or below it were
 * judged by epochs both agree on, so their view decisions stand.
 */
function changedFrom(before: GovernanceState, after: GovernanceState): bigint {
  let i = 0;
  while (i < before.epochs.length && i < after.epochs.length && before.epochs[i]!.proposal === after.epochs[i]!.proposal) i++;
  const starts = [before.epochs[i]?.fromHlc, after.epochs[i]?.fromHlc].filter((h): h is bigint => h !== undefined);
  return starts.reduce((min, h) => (h < min ? h : min), starts[0] ?? 0n);
}

/**
 * A token bucket per publisher, refilled at `perSecond` up to twice that,
 * timed by the caller's clock. Publishers are members, so the map stays
 * small; past allianceMembersMax the longest-unused entry goes.
 */
class VerificationBudget {
  readonly #perSecond: number;
  readonly #buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(perSecond: number) {
    this.#perSecond = perSecond;
  }

  /** Takes one verification for `publisher`; false when its bucket is empty. */
  take(publisher: string, nowMs: number): boolean {
    const capacity = 2 * this.#perSecond;
    const bucket = this.#buckets.get(publisher) ?? { tokens: capacity, atMs: nowMs };
    this.#buckets.delete(publisher); // re-inserted below: insertion order is last use
    bucket.tokens = Math.min(capacity, bucket.tokens + (Math.max(0, nowMs - bucket.atMs) * this.#perSecond) / 1000);
    bucket.atMs = nowMs;
    const granted = bucket.tokens >= 1;
    if (granted) bucket.tokens -= 1;
    if (this.#buckets.size >= allianceMembersMax) this.#buckets.delete(this.#buckets.keys().next().value!);
    this.#buckets.set(publisher, bucket);
    return granted;
  }
}

export class Replica {
  readonly nodeId: string;
  readonly #init: ReplicaInit;
  readonly #c: ReplicaComponents;
  #writer: LogWriter;
  /** Stored log ends, per author. */
  readonly #tips = new Map<string, Tip>();
  /** Newest verified head whose seq is the stored tip: what we tell peers we can serve. */
  readonly #served = new Map<string, SignedHead>();
  /** Highest verified head heard, per author (may be ahead of the store). */
  readonly #known = new Map<string, SignedHead>();
  /** A peer that said it stores up to the known head. */
  readonly #sources = new Map<string, string>();
  /** Newest signing time of a verified head, per author: the freshness of our picture of its log. */
  readonly #signedAt = new Map<string, number>();
  readonly #lastContact = new Map<string, number>();
  readonly #proofs = new Map<string, EquivocationProof>();
  readonly #pulling = new Map<string, Promise<void>>();
  /** Signature checks gossip publishers may still cost this node. */
  readonly #verifications = new VerificationBudget(gossipVerificationsPerPeerPerSecondMax);
  /** Serialises every store commit: the store's contiguity contract needs one writer. */
  #queue: Promise<unknown> = Promise.resolve();
  #flushScheduled = false;
  #waiting: Array<{ seq: number; resolve: (p: Provenance) => void; reject: (e: unknown) => void }> = [];
  #closed = false;
  #lastAnnouncedMs = -Infinity;
  #policy: ViewPolicy;
  /** The key this node signs with now (the configured one, or the next one after a rotation). */
  #writerKey: Sm2KeyPair;
  #governance: GovernanceState | undefined;
  /** A commit stored governance records: recompute the alliance's state after it. */
  #governanceDirty = false;

  private constructor(init: ReplicaInit, components: ReplicaComponents, writer: LogWriter) {
    this.#init = init;
    this.#c = components;
    this.#writer = writer;
    this.nodeId = writer.nodeId;
    this.#policy = init.policy ?? openPolicy;
    this.#writerKey = init.keyPair;
  }

  /** Loads the stored heads and proofs; the node's own log continues from its stored tip. */
  static async open(init: ReplicaInit, components: ReplicaComponents): Promise<Replica> {
    const { store } = components;
    const heads = await store.latestHeads();
    const selfId = init.nodeId ?? nodeIdOf(init.keyPair.publicKey);
    // A governed node may start before its admission is known here: it catches up and learns it.
    if (!init.genesis && !init.members.has(selfId)) throw new MembershipError(`this node (${selfId}) is not a member of the alliance`);
    const selfHead = heads.find((h) => toHex(h.head!.author) === selfId)?.head;
    const writer = new LogWriter(
      init.allianceId,
      init.keyPair,
      selfHead ? { seq: Number(selfHead.seq), hash: selfHead.entryHash, hlc: selfHead.hlc } : undefined,
      selfId,
    );
    const replica = new Replica(init, components, writer);
    if (init.genesis) await replica.#refreshGovernance(false);
    for (const signed of heads) {
      const author = toHex(signed.head!.author);
      replica.#tips.set(author, { seq: Number(signed.head!.seq), hash: signed.head!.entryHash });
      replica.#served.set(author, signed);
      replica.#known.set(author, signed);
    }
    for (const [key, bytes] of await store.stateRange(proofPrefix, init.members.size)) {
      replica.#proofs.set(key.slice(proofPrefix.length), EquivocationProofCodec.decode(bytes));
    }
    if ((await store.getState(viewsRebuildKey)) !== undefined) await replica.#rebuildViews();
    if (init.genesis) await replica.#refreshGovernance(true);
    return replica;
  }

  // ---- local writes ----

  /**
   * Appends a record to this node's log; resolves once it is durable (and
   * then announced). Concurrent writes are group-committed under one head.
   * Rejects with ValidationError, appending nothing, for an invalid record.
   */
  write(record: Record): Promise<Provenance> {
    if (this.#closed) return Promise.reject(new TongxingError('replica is closed'));
    const behind = this.#ownLogBehind();
    if (behind) return Promise.reject(new TongxingError(behind));
    if (!this.#init.members.isActive(this.nodeId)) {
      const status = this.#init.members.get(this.nodeId)?.status ?? 'not yet admitted (or its admission has not reached this node)';
      return Promise.reject(new MembershipError(`this node is ${status}: it writes once governance makes it an active member`));
    }
    let seq: number;
    try {
      seq = Number(this.#writer.append(record, this.#c.clock.nowMs()).entry.seq);
    } catch (error) {
      return Promise.reject(error);
    }
    const done = new Promise<Provenance>((resolve, reject) => this.#waiting.push({ seq, resolve, reject }));
    this.#scheduleFlush();
    return done;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    void this.#serial(async () => {
      this.#flushScheduled = false;
      await this.#flush();
    });
  }

  async #flush(): Promise<void> {
    const sealed = this.#writer.seal(this.#c.clock.nowMs());
    if (!sealed) return;
    const waiting = this.#waiting;
    this.#waiting = [];
    try {
      const state = await this.#plan(this.nodeId, sealed.hashed);
      await this.#c.store.commit({ entries: sealed.entries, heads: [sealed.head], state });
    } catch (error) {
      // The writer's tip has moved past what is stored: this replica cannot go on.
      this.#closed = true;
      for (const w of waiting) w.reject(error);
      throw error;
    }
    const head = sealed.head.head!;
    this.#stored(this.nodeId, sealed.head);
    this.#c.onEvent?.({ type: 'ingested', author: this.nodeId, fromSeq: sealed.entries[0]!.seq, toSeq: Number(head.seq), source: 'local' });
    for (const w of waiting) w.resolve({ author: this.nodeId, seq: w.seq, hlc: sealed.hashed[w.seq - sealed.entries[0]!.seq]!.entry.hlc.toString() });
    this.#announceHead(sealed.head, sealed.entries.map((e) => e.bytes));
    // After #stored: a rebuild it may start replays this node's own log up to the new head.
    await this.#refreshGovernance(true);
  }

  /**
   * Re-signs this node's head as a liveness beacon, so peers can tell its data
   * is fresh; skipped when a head was announced within `skipWithinMs` (a
   * batch's head says as much). The beacon travels in head vectors, passed on
   * from node to node by anti-entropy, not on gossip: gossiping every beacon
   * to every member costs O(N^2) messages and verifications per interval.
   */
  beacon(skipWithinMs = 0): void {
    if (this.#closed || this.#writer.pendingCount > 0 || this.#ownLogBehind()) return;
    if (this.#c.clock.nowMs() - this.#lastAnnouncedMs < skipWithinMs) return;
    const signed = this.#writer.resign(this.#c.clock.nowMs());
    this.#signedAt.set(this.nodeId, Number(signed.head!.signedAtMs));
    this.#served.set(this.nodeId, signed);
  }

  #announceHead(head: SignedHead, entries: readonly Uint8Array[]): void {
    this.#lastAnnouncedMs = this.#c.clock.nowMs();
    let bytes = 0;
    for (const e of entries) bytes += e.length;
    const ride = bytes <= announceBytesMax ? entries.map((e) => Buffer.from(e)) : [];
    this.#c.transport.announce({ kind: { $case: 'head', value: { head, entries: ride } } });
  }

  // ---- inbound ----

  /**
   * Gossip validator and handler in one: verifies before answering, so an
   * invalid announcement is never forwarded ('reject' lowers the sender's
   * score); storing happens afterwards, in the background. `from` is the
   * member it came from (the relay). `publisher` is the member that published
   * it, when the transport authenticates publishers (libp2p StrictSign); it
   * turns on the publisher rules: a member publishes only its own heads, each
   * once as it signs it (so a head of another author, or one signed more than
   * gossipHeadAgeMsMax ago, is rejected), and its announcements may cost at
   * most gossipVerificationsPerPeerPerSecondMax signature checks a second
   * (beyond that they are ignored and left to anti-entropy). Every check
   * that needs no signature comes before the signature is verified.
   */
  async receiveAnnouncement(announcement: Announcement, from?: string, publisher?: string): Promise<Verdict> {
    const kind = announcement.kind;
    if (kind?.$case === 'proof') return this.#receiveProof(kind.value, from, publisher);
    if (kind?.$case !== 'head' || !kind.value.head?.head) return this.#reject(from, 'empty announcement');
    const signed = kind.value.head;
    const author = toHex(signed.head!.author);
    const refusal = publisher === undefined ? undefined : this.#publisherRefusal(signed.head!, author, publisher);
    if (refusal !== undefined) return this.#reject(from, refusal);
    // Not (or no longer) a member here: the relay may be an epoch ahead of this
    // node, so the head is not forwarded, but the relay is not penalised either.
    if (!this.#init.members.has(author)) return 'ignore';
    if (author !== this.nodeId && this.#proofs.has(author)) return 'ignore';
    if (author !== this.nodeId && kind.value.entries.length === 0 && this.#heardBefore(signed.head!, author)) return 'ignore';
    if (publisher !== undefined && !this.#verifications.take(publisher, this.#c.clock.nowMs())) return 'ignore';
    let range: HashedEntry[] = [];
    try {
      const publicKey = this.#signerKey(author, signed);
      const head = signed.head!;
      const entries = kind.value.entries;
      if (entries.length > 0) {
        // Checked against the batch's own first prev; whether it extends our log is decided at ingest.
        const first = decodeEntry(entries[0]!, 'entries[0]');
        const tip = { seq: Number(head.seq) - entries.length, hash: first.entry.prev };
        range = verifyRange({ allianceId: this.#init.allianceId, publicKey, keyOwner: author, signedHead: signed, tip, entries }).entries;
      }
    } catch (error) {
      // A suspended or removed member's head past its cutoff: as for a non-member above.
      if (error instanceof MembershipError) return 'ignore';
      return this.#reject(from, `announcement from ${author.slice(0, 12)}: ${(error as Error).message}`);
    }
    if (author === this.nodeId) return this.#ownHead(signed, from);
    const stale = Number(signed.head!.seq) <= (this.#tips.get(author) ?? emptyLog).seq && Number(signed.head!.signedAtMs) <= (this.#signedAt.get(author) ?? -1);
    if (from !== undefined && this.#init.members.has(from)) this.#lastContact.set(from, this.#c.clock.nowMs());
    void this.#onHead(signed, range, author).catch((error) => this.#reject(from, (error as Error).message));
    // A replayed or already-seen head is checked for consistency but not forwarded.
    return stale ? 'ignore' : 'accept';
  }

  /** Why an authenticated publisher may not have published this head, if it may not. */
  #publisherRefusal(head: Head, author: string, publisher: string): string | undefined {
    if (publisher !== author) return `head of ${author.slice(0, 12)} published by ${publisher.slice(0, 12)}: a member publishes only its own heads`;
    const ageMs = this.#c.clock.nowMs() - Number(head.signedAtMs);
    if (ageMs > gossipHeadAgeMsMax) {
      return `replayed head of ${author.slice(0, 12)} at seq ${head.seq}: signed ${ageMs} ms ago, more than gossipHeadAgeMsMax (${gossipHeadAgeMsMax})`;
    }
    return undefined;
  }

  /**
   * The newest head this node knows of the author, or the same head with an
   * older signature: alone (no batch riding along, which is still checked),
   * it has nothing to teach, so it is not worth a signature check. An older
   * seq may still prove an equivocation, and is checked.
   */
  #heardBefore(head: Head, author: string): boolean {
    const known = this.#known.get(author)?.head;
    return known !== undefined && head.seq === known.seq && head.signedAtMs <= known.signedAtMs && equalBytes(head.entryHash, known.entryHash);
  }

  /** Anti-entropy, server side: learn the caller's heads, answer with ours. */
  async handleExchangeHeads(from: string, request: ExchangeHeadsRequest): Promise<ExchangeHeadsResponse> {
    this.#assertMember(from);
    this.#lastContact.set(from, this.#c.clock.nowMs());
    void this.#learn(from, request.heads, request.proofs).catch((error) => this.#reject(from, `head vector: ${(error as Error).message}`));
    return this.#headVector();
  }

  /**
   * Pull, server side: entries of one author after `afterSeq`, in chunks that
   * each end on a stored signed head, so the receiver verifies one signature
   * per chunk. Serves any author, not only this node.
   */
  async *servePull(from: string, request: PullEntriesRequest): AsyncGenerator<PullEntriesResponse> {
    this.#assertMember(from);
    this.#lastContact.set(from, this.#c.clock.nowMs());
    const author = toHex(request.author);
    const tip = this.#tips.get(author) ?? emptyLog;
    const upTo = request.upToSeq > 0n ? Math.min(Number(request.upToSeq), tip.seq) : tip.seq;
    let after = Number(request.afterSeq);
    while (after < upTo) {
      let head = await this.#c.store.headAtOrBefore(author, Math.min(upTo, after + rangeEntriesMax));
      if (!head || Number(head.head!.seq) <= after) head = await this.#c.store.headAtOrAfter(author, after + 1);
      if (!head) return;
      const seq = Number(head.head!.seq);
      if (seq - after > rangeEntriesMax) return; // cannot happen while stored heads are at most rangeEntriesMax apart
      if (seq === tip.seq) head = this.#served.get(author) ?? head; // the freshest signature of the same head
      const entries = await this.#c.store.entries(author, after + 1, seq, rangeEntriesMax);
      yield { entries: entries.map((e) => Buffer.from(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength)), head };
      after = seq;
    }
  }

  // ---- periodic ----

  /** One anti-entropy round with a random peer: exchange head vectors, then pull what is missing. */
  async antiEntropyRound(): Promise<void> {
    const peers = this.#init.members.active().filter((m) => m.nodeId !== this.nodeId);
    if (peers.length === 0 || this.#closed) return;
    const peer = peers[this.#c.random.int(peers.length)]!.nodeId;
    let response: ExchangeHeadsResponse;
    try {
      response = await this.#c.transport.exchangeHeads(peer, this.#headVector());
    } catch {
      return; // unreachable: the next round picks another peer
    }
    this.#lastContact.set(peer, this.#c.clock.nowMs());
    await this.#learn(peer, response.heads, response.proofs);
  }

  #headVector(): ExchangeHeadsResponse {
    const heads = [...this.#served.values()];
    return { heads, proofs: [...this.#proofs.values()] };
  }

  async #learn(peer: string, heads: readonly SignedHead[], proofs: readonly EquivocationProof[]): Promise<void> {
    // At most one proof per member can matter; more is a peer wasting our SM2 verifications.
    for (const proof of proofs.slice(0, this.#init.members.size)) await this.#receiveProof(proof, peer);
    const pulls: Promise<void>[] = [];
    for (const signed of heads.slice(0, this.#init.members.size)) {
      const author = toHex(signed.head?.author ?? Buffer.alloc(0));
      if (!this.#init.members.has(author) || this.#proofs.has(author)) continue;
      const known = this.#known.get(author)?.head;
      const head = signed.head!;
      const tipSeq = (this.#tips.get(author) ?? emptyLog).seq;
      // Worth a look: newer or fresher than what we know, a history we lack
      // (even if an earlier pull of it failed), or a different entry at a seq we know.
      const useful =
        !known ||
        head.seq > known.seq ||
        head.signedAtMs > known.signedAtMs ||
        Number(head.seq) > tipSeq ||
        (head.seq === known.seq && !head.entryHash.equals(known.entryHash));
      if (!useful) continue;
      try {
        this.#signerKey(author, signed);
      } catch (error) {
        if (error instanceof SignatureError && Number(head.seq) > tipSeq && !this.#pulling.has(author)) {
          // Perhaps signed with a key this node has not learned of yet: the
          // rotation is in the part of the log it lacks. Pull what verifies.
          pulls.push(this.#pullAcrossRotation(peer, author, Number(head.seq)));
        } else this.#reject(peer, `head vector: ${(error as Error).message}`);
        continue;
      }
      if (author === this.nodeId) {
        this.#ownHead(signed, peer);
        continue;
      }
      this.#sources.set(author, peer);
      pulls.push(this.#onHead(signed, [], peer));
    }
    await Promise.all(pulls);
  }

  // ---- own log recovery ----

  /**
   * A peer holds more of this node's own log than its store does: the data
   * directory was lost or restored from an old backup. Writing now would sign
   * a second history (an equivocation), so writes are refused until the own
   * log is pulled back like any other member's; the writer then continues it.
   */
  #ownHead(signed: SignedHead, source: string | undefined): Verdict {
    const seq = Number(signed.head!.seq);
    if (seq <= this.#writer.tip.seq) return 'ignore';
    const known = this.#known.get(this.nodeId);
    if (!known || seq > Number(known.head!.seq)) this.#known.set(this.nodeId, signed);
    if (source !== undefined) this.#sources.set(this.nodeId, source);
    void this.pull(this.nodeId).then(() => this.#resumeOwnLog());
    return 'accept';
  }

  #resumeOwnLog(): void {
    const tip = this.#tips.get(this.nodeId);
    if (!tip || tip.seq <= this.#writer.tip.seq || this.#writer.pendingCount > 0) return;
    const head = this.#served.get(this.nodeId)!.head!;
    this.#writer = new LogWriter(this.#init.allianceId, this.#writerKey, { seq: tip.seq, hash: tip.hash, hlc: head.hlc }, this.nodeId);
  }

  #ownLogBehind(): string | undefined {
    const known = Number(this.#known.get(this.nodeId)?.head?.seq ?? 0);
    if (known <= this.#writer.tip.seq) return undefined;
    return `this node's own log is being recovered from peers (stored seq ${this.#writer.tip.seq}, peers hold ${known}): writes resume when it is back`;
  }

  // ---- ingest ----

  /** A verified head (with the verified batch that rode along, if any). */
  async #onHead(signed: SignedHead, range: readonly HashedEntry[], source: string): Promise<void> {
    const head = signed.head!;
    const author = toHex(head.author);
    const seq = Number(head.seq);
    const signedAt = Number(head.signedAtMs);
    if (signedAt > (this.#signedAt.get(author) ?? -1)) this.#signedAt.set(author, signedAt);
    const known = this.#known.get(author)?.head;
    const tip = this.#tips.get(author) ?? emptyLog;
    if (!known || seq > Number(known.seq)) {
      this.#known.set(author, signed);
      if (source !== author) this.#sources.set(author, source);
    } else if (seq === Number(known.seq) && head.entryHash.equals(known.entryHash) && head.signedAtMs > known.signedAtMs) {
      // A fresher signature of the same head: pass the freshness on in head vectors.
      this.#known.set(author, signed);
      if (seq === tip.seq) this.#served.set(author, signed);
    }
    if (seq <= tip.seq) return this.#checkConsistent(signed);
    const first = seq - range.length + 1;
    if (range.length > 0 && first <= tip.seq + 1) {
      await this.#serial(() => this.#ingest(signed, range.slice(tip.seq + 1 - first), 'gossip'));
    }
    if (seq > (this.#tips.get(author) ?? emptyLog).seq) await this.pull(author);
  }

  /**
   * Stores a verified range if it still extends the stored log (another path
   * may have stored it meanwhile). Runs inside the commit queue.
   */
  async #ingest(signed: SignedHead, range: readonly HashedEntry[], source: 'gossip' | 'pull'): Promise<void> {
    const head = signed.head!;
    const author = toHex(head.author);
    if (this.#proofs.has(author)) return;
    const tip = this.#tips.get(author) ?? emptyLog;
    const seq = Number(head.seq);
    if (seq <= tip.seq) return;
    const entries = range.slice(range.length - (seq - tip.seq));
    if (entries.length !== seq - tip.seq) return; // a gap: the pull fills it
    if (!equalBytes(entries[0]!.entry.prev, tip.hash)) {
      await this.#equivocation(makeProof(this.#served.get(author)!, signed, entries.map((e) => e.bytes)));
      return;
    }
    const stored: StoredEntry[] = entries.map((e) => ({ author, seq: Number(e.entry.seq), bytes: e.bytes }));
    const state = await this.#plan(author, entries);
    await this.#c.store.commit({ entries: stored, heads: [signed], state, durable: false });
    this.#stored(author, signed);
    await this.#refreshGovernance(true);
    this.#writer.observe(head.hlc); // our next entries order after what we have seen
    this.#c.onEvent?.({ type: 'ingested', author, fromSeq: stored[0]!.seq, toSeq: seq, source });
  }

  #stored(author: string, signed: SignedHead): void {
    const head = signed.head!;
    this.#tips.set(author, { seq: Number(head.seq), hash: head.entryHash });
    this.#served.set(author, signed);
    const known = this.#known.get(author);
    if (!known || head.seq >= known.head!.seq) this.#known.set(author, signed);
    const signedAt = Number(head.signedAtMs);
    if (signedAt > (this.#signedAt.get(author) ?? -1)) this.#signedAt.set(author, signedAt);
  }

  /**
   * Pulls `author`'s missing entries: first from a peer known to have them,
   * then the author, then other members, each verified chunk stored at once.
   */
  pull(author: string): Promise<void> {
    if (this.#closed) return Promise.resolve();
    let running = this.#pulling.get(author);
    if (!running) {
      running = this.#pullFromCandidates(author).finally(() => this.#pulling.delete(author));
      this.#pulling.set(author, running);
    }
    return running;
  }

  async #pullFromCandidates(author: string): Promise<void> {
    for (const peer of this.#pullCandidates(author)) {
      const target = Number(this.#known.get(author)?.head?.seq ?? 0);
      const tip = this.#tips.get(author) ?? emptyLog;
      if (tip.seq >= target || this.#proofs.has(author)) return;
      const ok = await this.#pullFrom(peer, author, tip.seq, target);
      this.#c.onEvent?.({ type: 'pull', peer, author, ok });
    }
  }

  #pullCandidates(author: string): string[] {
    const others = this.#init.members.active().map((m) => m.nodeId).filter((id) => id !== this.nodeId && id !== author);
    for (let i = others.length - 1; i > 0; i--) {
      const j = this.#c.random.int(i + 1);
      [others[i], others[j]] = [others[j]!, others[i]!];
    }
    const source = this.#sources.get(author);
    const first = [source, author].filter((p): p is string => p !== undefined && p !== this.nodeId && this.#init.members.isActive(p));
    return [...new Set([...first, ...others])].slice(0, pullPeersMax);
  }

  /**
   * Streams chunks from one peer. Each chunk is verified against the end of
   * the previous one while that one is still being committed (CPU work
   * overlaps the store's IO, one chunk deep); #ingest re-checks the stored
   * tip, so chunks stored meanwhile by another path are skipped, not doubled.
   */
  /**
   * A node that missed a member's key rotation cannot verify the member's
   * newer heads, and the rotation itself is in the entries those heads cover.
   * The older batch heads, signed with the key it knows, are still stored
   * everywhere: pull up to them (#pullFrom steps down to them), ingest, and
   * once governance has applied the rotation the rest verifies as usual.
   */
  async #pullAcrossRotation(peer: string, author: string, claimedSeq: number): Promise<void> {
    const run = async () => {
      for (;;) {
        const before = (this.#tips.get(author) ?? emptyLog).seq;
        if (before >= claimedSeq || this.#closed) return;
        await this.#pullFrom(peer, author, before, claimedSeq, true);
        if ((this.#tips.get(author) ?? emptyLog).seq === before) return; // nothing more verifies from this peer
      }
    };
    const running = run().finally(() => this.#pulling.delete(author));
    this.#pulling.set(author, running);
    await running;
  }

  async #pullFrom(peer: string, author: string, afterSeq: number, upToSeq: number, stepDown = false): Promise<boolean> {
    const start = this.#tips.get(author) ?? emptyLog;
    if (start.seq !== afterSeq) return false;
    let expected: Tip = start;
    let committing: Promise<void> = Promise.resolve();
    try {
      for await (const chunk of this.#c.transport.pullEntries(peer, { author: Buffer.from(author, 'hex'), afterSeq: BigInt(afterSeq), upToSeq: BigInt(upToSeq) })) {
        if (!chunk.head) throw new ChainError('chunk without a head');
        let verified;
        try {
          const publicKey = this.#signerKey(author, chunk.head);
          verified = verifyRange({ allianceId: this.#init.allianceId, publicKey, keyOwner: author, signedHead: chunk.head, tip: expected, entries: chunk.entries });
        } catch (error) {
          if (stepDown && error instanceof SignatureError && expected.seq === afterSeq && upToSeq - afterSeq > 1) {
            // The first chunk's head is signed with a key not known here: ask for less, ending on an older stored head.
            return this.#pullFrom(peer, author, afterSeq, Math.floor((afterSeq + upToSeq) / 2), true);
          }
          if (!(error instanceof ForkError)) throw error;
          await committing;
          const head = chunk.head;
          await this.#serial(() => this.#equivocation(makeProof(this.#served.get(author)!, head, chunk.entries)));
          return false;
        }
        await committing; // at most one chunk in flight: bounded memory, errors surface here
        const { head, entries } = { head: chunk.head, entries: verified.entries };
        committing = entries.length > 0 ? this.#serial(() => this.#ingest(head, entries, 'pull')) : Promise.resolve();
        expected = { seq: Number(verified.head.seq), hash: verified.head.entryHash };
      }
      await committing;
      this.#lastContact.set(peer, this.#c.clock.nowMs());
      return expected.seq >= upToSeq;
    } catch (error) {
      await committing.catch(() => undefined);
      if (error instanceof TongxingError) this.#reject(peer, `pull of ${author.slice(0, 12)}: ${error.message}`);
      return false;
    }
  }


  /** A head at or below our stored tip must agree with what we stored, or it proves equivocation. */
  async #checkConsistent(signed: SignedHead): Promise<void> {
    const head = signed.head!;
    const author = toHex(head.author);
    const seq = Number(head.seq);
    if (seq === 0 || this.#proofs.has(author)) return;
    const tip = this.#tips.get(author) ?? emptyLog;
    if (seq === tip.seq) {
      if (!head.entryHash.equals(tip.hash)) await this.#serial(() => this.#equivocation(makeProof(this.#served.get(author)!, signed)));
      return;
    }
    const covering = await this.#c.store.headAtOrAfter(author, seq);
    if (!covering) return;
    const coveringSeq = Number(covering.head!.seq);
    if (coveringSeq === seq) {
      if (!covering.head!.entryHash.equals(head.entryHash)) await this.#serial(() => this.#equivocation(makeProof(covering, signed)));
      return;
    }
    const chain = await this.#c.store.entries(author, seq, coveringSeq, rangeEntriesMax + 1);
    const ours = chain[0] && decodeEntry(chain[0].bytes);
    if (ours && !ours.hash.equals(head.entryHash)) {
      await this.#serial(() => this.#equivocation(makeProof(signed, covering, chain.slice(1).map((e) => e.bytes))));
    }
  }

  async #receiveProof(proof: EquivocationProof, from?: string, publisher?: string): Promise<Verdict> {
    const author = toHex(proof.first?.head?.author ?? Buffer.alloc(0));
    const member = this.#init.members.get(author);
    if (!member) return this.#reject(from, 'equivocation proof about a non-member');
    if (this.#proofs.has(author)) return 'ignore';
    if (publisher !== undefined && !this.#verifications.take(publisher, this.#c.clock.nowMs())) return 'ignore';
    try {
      verifyProof(proof, member.publicKey, this.#init.allianceId, author);
    } catch (error) {
      return this.#reject(from, `equivocation proof: ${(error as Error).message}`);
    }
    await this.#serial(() => this.#equivocation(proof));
    return 'accept';
  }

  /**
   * Records a (verified or self-made) proof: stored, announced, reported, and
   * the author quarantined: no more of its entries are stored, and views are
   * rebuilt without any of its records, so every honest node answers alike
   * whichever of the two histories it had. Runs inside the commit queue.
   */
  async #equivocation(proof: EquivocationProof): Promise<void> {
    const author = toHex(proof.first!.head!.author);
    if (this.#proofs.has(author)) return;
    const { seq } = verifyProof(proof, this.#init.members.get(author)!.publicKey, this.#init.allianceId, author);
    this.#proofs.set(author, proof);
    await this.#c.store.commit({
      entries: [],
      heads: [],
      state: [
        { key: proofKey(author), value: EquivocationProofCodec.encode(proof).finish() },
        { key: viewsRebuildKey, value: new Uint8Array(0) },
      ],
    });
    this.#c.onEvent?.({ type: 'equivocation', author, seq });
    this.#c.transport.announce({ kind: { $case: 'proof', value: proof } });
    await this.#rebuildViews();
  }

  /** Drops every view and re-applies all stored logs of authors in good standing (rare: after an equivocation). */
  async #rebuildViews(): Promise<void> {
    const { store } = this.#c;
    for (;;) {
      const page = await store.stateRange(viewPrefix, 10_000);
      if (page.length === 0) break;
      await store.commit({ entries: [], heads: [], state: page.map(([key]) => ({ key, value: undefined })) });
    }
    for (const [author, tip] of this.#tips) {
      if (this.#proofs.has(author)) continue;
      for (let from = 1; from <= tip.seq; from += rangeEntriesMax) {
        const entries = await store.entries(author, from, tip.seq, rangeEntriesMax);
        const state = await this.#plan(author, entries.map((e) => decodeEntry(e.bytes)));
        await store.commit({ entries: [], heads: [], state });
      }
    }
    await store.commit({ entries: [], heads: [], state: [{ key: viewsRebuildKey, value: undefined }] });
  }

  /** View changes for one author's verified entries (none for a quarantined author). */
  async #plan(author: string, hashed: readonly HashedEntry[]): Promise<StateChange[]> {
    if (this.#proofs.has(author)) return [];
    const { entries, rejected } = prepareViewEntries(author, hashed);
    const changes = await planViews(entries, (keys) => this.#c.store.getStates(keys), this.#policy);
    if (this.#init.genesis && changes.some((c) => c.key.startsWith(govPrefix))) this.#governanceDirty = true;
    return [...changes, ...rejected];
  }

  /**
   * The key that signed a head of `author`: its current key, or a key rotated
   * away after the head's hlc. Refuses heads of non-members and heads a
   * suspended or removed member signed past its cutoff.
   */
  #signerKey(author: string, signed: SignedHead): Uint8Array {
    const member = this.#init.members.get(author);
    if (!member) throw new MembershipError(`head of non-member ${author.slice(0, 12)}`);
    const hlc = signed.head!.hlc;
    if (member.cutoffHlc !== undefined && hlc > member.cutoffHlc) {
      throw new MembershipError(`${member.city} (${author.slice(0, 12)}) is ${member.status}: its entries after hlc ${member.cutoffHlc} are not accepted`);
    }
    return verifyWithKeys(this.#init.members.keysFor(author, hlc), (key) => verifyHead(signed, key, this.#init.allianceId, author)).publicKey;
  }

  /**
   * Recomputes the alliance's state from the stored governance records after
   * a commit that added some. A new epoch replaces the members and the
   * policy, and rebuilds the views: entries already applied may now be
   * judged differently (an author suspended as of an earlier hlc), and every
   * node must end with the views the full set of records gives.
   */
  async #refreshGovernance(rebuild: boolean): Promise<void> {
    const genesis = this.#init.genesis;
    if (!genesis || (this.#governance && !this.#governanceDirty)) return;
    this.#governanceDirty = false;
    const page = await this.#c.store.stateRange(govPrefix, governanceRecordsMax + 1);
    if (page.length > governanceRecordsMax) throw new LimitError(`more than governanceRecordsMax (${governanceRecordsMax}) governance records`);
    const state = computeGovernance(genesis, page.map(([key, bytes]) => decodeGovRecord(key, bytes)));
    const before = this.#governance;
    this.#governance = state;
    const changed = !before || before.epochs.length !== state.epochs.length || before.current.proposal !== state.current.proposal;
    if (!changed) return;
    this.#policy = governancePolicy(state);
    this.#init.members.replace(membersWithSnapshot(state, this.#init.snapshot));
    this.#switchKeyIfRotated();
    this.#c.onEvent?.({ type: 'epoch', epoch: state.current.number });
    if (rebuild && before && this.#storedAfter(changedFrom(before, state))) {
      await this.#rebuildViews();
      this.#governanceDirty = false;
    }
  }

  /** Whether any stored entry has an hlc above `hlc` (each log's newest entry has its highest hlc). */
  #storedAfter(hlc: bigint): boolean {
    for (const signed of this.#served.values()) if (signed.head!.hlc > hlc) return true;
    return false;
  }

  /** Once governance has rotated this node's key to the prepared next key, sign with it. */
  #switchKeyIfRotated(): void {
    const next = this.#init.nextKeyPair;
    const self = this.#init.members.get(this.nodeId);
    if (!next || !self || !equalBytes(self.publicKey, next.publicKey) || this.#writer.pendingCount > 0) return;
    if (equalBytes(this.#writerKey.publicKey, next.publicKey)) return;
    this.#writerKey = next;
    this.#writer = new LogWriter(this.#init.allianceId, next, this.#writer.tip, this.nodeId);
  }

  /** The alliance's governance state (undefined without a genesis). */
  get governance(): GovernanceState | undefined {
    return this.#governance;
  }

  /** Who may write what, as of an hlc (queries use it for trusted CAs and recognition). */
  get policy(): ViewPolicy {
    return this.#policy;
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #reject(peer: string | undefined, reason: string): Verdict {
    this.#c.onEvent?.({ type: 'rejected', peer, reason });
    return 'reject';
  }

  #assertMember(peer: string): void {
    if (!this.#init.members.isActive(peer)) {
      const member = this.#init.members.get(peer);
      throw new MembershipError(member ? `${member.city} (${peer.slice(0, 12)}) is ${member.status}` : `${peer.slice(0, 12)} is not a member`);
    }
  }

  // ---- what queries and status read ----

  get store(): Store {
    return this.#c.store;
  }

  get members(): Membership {
    return this.#init.members;
  }

  isQuarantined(author: string): boolean {
    return this.#proofs.has(author);
  }

  /** Per member: stored and known seq, newest head signing time, last contact. */
  logs(): Array<{ nodeId: string; storedSeq: number; knownSeq: number; signedAtMs: number | undefined; lastContactMs: number | undefined; equivocated: boolean }> {
    return this.#init.members.list().map((m) => ({
      nodeId: m.nodeId,
      storedSeq: m.nodeId === this.nodeId ? this.#writer.tip.seq : (this.#tips.get(m.nodeId)?.seq ?? 0),
      knownSeq: Number(this.#known.get(m.nodeId)?.head?.seq ?? (m.nodeId === this.nodeId ? this.#writer.tip.seq : 0)),
      signedAtMs: this.#signedAt.get(m.nodeId),
      lastContactMs: this.#lastContact.get(m.nodeId),
      equivocated: this.#proofs.has(m.nodeId),
    }));
  }

  /** Waits for queued commits; later writes are refused. */
  async close(): Promise<void> {
    if (this.#writer.pendingCount > 0) this.#scheduleFlush();
    await this.#queue;
    this.#closed = true;
  }
}

