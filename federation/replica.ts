import type { Announcement, ExchangeHeadsRequest, ExchangeHeadsResponse, PullEntriesRequest, PullEntriesResponse } from '../gen/tongxing/federation/v1/peer.js';
import { EquivocationProof as EquivocationProofCodec, type SignedHead } from '../gen/tongxing/log/v1/log.js';
import type { Record } from '../gen/tongxing/records/v1/records.js';
import { nodeIdOf, type Sm2KeyPair } from './crypto/sm2.js';
import { FatalError, MembershipError, UnavailableError } from './errors.js';
import type { VerifiedGenesis } from './governance/genesis.js';
import type { VerifiedSnapshot } from './governance/snapshot.js';
import type { GovernanceState } from './governance/state.js';
import { allianceMembersMax, rangeEntriesMax } from './limits.js';
import { toHex } from './log/entry.js';
import type { Membership } from './membership.js';
import { ReplicaCore } from './replica/core.js';
import type { StoredHistory } from './replica/equivocation.js';
import type { PullOrder, Ready, ReplicaEvent } from './replica/ready.js';
import type { Clock, Random } from './replica/state.js';
import type { Verdict } from './replica/sync.js';
import { planCommit, rebuildViews, storedGovernance } from './replica/views.js';
import { proofPrefix, viewsRebuildKey } from './store/state-keys.js';
import type { Store } from './store/store.js';
import { openPolicy, type ViewPolicy } from './views/policy.js';
import type { Provenance } from './views/provenance.js';

// The replica's driver: the one place that awaits. The core (./replica/core.ts)
// decides synchronously and hands back a Ready; this applies it in the order
// ./replica/ready.ts states, runs the pulls it orders, and feeds back what the
// store and the peers answer. The node process and the simulator drive this
// same code with their own store, transport, clock and randomness.

export type { Clock, Random, ReplicaEvent, Verdict };

/** Outbound peer calls. `peer` is a member node id; calls reject when it cannot be reached. */
export interface PeerTransport {
  exchangeHeads(peer: string, request: ExchangeHeadsRequest): Promise<ExchangeHeadsResponse>;
  pullEntries(peer: string, request: PullEntriesRequest): AsyncIterable<PullEntriesResponse>;
  /** Publish on the alliance gossip topic; best effort. */
  announce(announcement: Announcement): void;
}

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
  /**
   * The store failed (disk full, corrupt, closed under it): the replica stops,
   * and the process must too. Never reported as a peer's fault. Default: the
   * error is only kept, and every later call rejects with it.
   */
  readonly onFatal?: (error: FatalError) => void;
}

interface Waiter {
  resolve(provenance: Provenance): void;
  reject(error: unknown): void;
}

export class Replica {
  readonly nodeId: string;
  readonly #init: ReplicaInit;
  readonly #c: ReplicaComponents;
  readonly #core: ReplicaCore;
  /** The Ready being applied (at most one: the store's contiguity contract needs one writer). */
  #applying: Promise<void> | undefined;
  readonly #pulls = new Map<string, Promise<void>>();
  readonly #waiting = new Map<number, Waiter>();
  #fatal: FatalError | undefined;

  private constructor(init: ReplicaInit, components: ReplicaComponents, core: ReplicaCore) {
    this.#init = init;
    this.#c = components;
    this.#core = core;
    this.nodeId = core.nodeId;
  }

  /** Loads the stored heads and proofs; the node's own log continues from its stored tip. */
  static async open(init: ReplicaInit, components: ReplicaComponents): Promise<Replica> {
    const { store } = components;
    const selfId = init.nodeId ?? nodeIdOf(init.keyPair.publicKey);
    // A governed node may start before its admission is known here: it catches up and learns it.
    if (!init.genesis && !init.members.has(selfId)) throw new MembershipError(`this node (${selfId}) is not a member of the alliance`);
    const proofs = (await store.stateRange(proofPrefix, allianceMembersMax)).map(([, bytes]) => EquivocationProofCodec.decode(bytes));
    const core = new ReplicaCore(
      {
        allianceId: init.allianceId,
        keyPair: init.keyPair,
        nodeId: selfId,
        members: init.members.list(),
        policy: init.policy ?? openPolicy,
        heads: await store.latestHeads(),
        proofs,
        ...(init.genesis ? { genesis: init.genesis } : {}),
        ...(init.snapshot ? { snapshot: init.snapshot } : {}),
        ...(init.nextKeyPair ? { nextKeyPair: init.nextKeyPair } : {}),
      },
      components.clock,
      components.random,
    );
    const replica = new Replica(init, components, core);
    if (init.genesis) core.applyGovernance(await storedGovernance(store), false);
    if ((await store.getState(viewsRebuildKey)) !== undefined) {
      await rebuildViews(store, core.tipsInGoodStanding(), core.policy);
      if (init.genesis) core.applyGovernance(await storedGovernance(store), true);
    }
    await replica.#drain();
    if (replica.#fatal) throw replica.#fatal;
    return replica;
  }

  // ---- local writes ----

  /**
   * Appends a record to this node's log; resolves once it is durable (and
   * then announced). Concurrent writes are group-committed under one head.
   * Rejects with ValidationError, appending nothing, for an invalid record.
   */
  write(record: Record): Promise<Provenance> {
    if (this.#fatal) return Promise.reject(this.#fatal);
    let seq: number;
    try {
      seq = this.#core.propose(record);
    } catch (error) {
      return Promise.reject(error);
    }
    const done = new Promise<Provenance>((resolve, reject) => this.#waiting.set(seq, { resolve, reject }));
    void this.#drain();
    return done;
  }

  /**
   * Writes `records` all or none, even if the process dies meanwhile: one
   * atomic store commit, announced only once it is durable (./replica/commit.ts
   * proposeAll). Resolves with each record's provenance, in order; rejects,
   * writing nothing, when any record is invalid (ValidationError naming
   * records[i]).
   */
  writeAll(records: readonly Record[]): Promise<Provenance[]> {
    if (this.#fatal) return Promise.reject(this.#fatal);
    let seqs: number[];
    try {
      seqs = this.#core.proposeAll(records);
    } catch (error) {
      void this.#drain(); // pending writes sealed before the refusal are committed all the same
      return Promise.reject(error);
    }
    const done = Promise.all(seqs.map((seq) => new Promise<Provenance>((resolve, reject) => this.#waiting.set(seq, { resolve, reject }))));
    void this.#drain();
    return done;
  }

  /** See ReplicaCore.beacon: re-signs this node's head as a liveness beacon. */
  beacon(skipWithinMs = 0): void {
    this.#core.beacon(skipWithinMs);
  }

  // ---- inbound ----

  /** The gossip validator (./replica/sync.ts receiveAnnouncement); storing follows in the background. */
  async receiveAnnouncement(announcement: Announcement, from?: string, publisher?: string): Promise<Verdict> {
    const verdict = this.#core.receiveAnnouncement(announcement, from, publisher);
    void this.#drain();
    return verdict;
  }

  /** Anti-entropy, server side: learn the caller's heads, answer with ours. Throws MembershipError for a non-member. */
  async handleExchangeHeads(from: string, request: ExchangeHeadsRequest): Promise<ExchangeHeadsResponse> {
    this.#core.learn(from, request.heads, request.proofs, true);
    void this.#drain();
    return this.#core.headVector();
  }

  /**
   * Pull, server side: entries of one author after `afterSeq`, in chunks that
   * each end on a stored signed head, so the receiver verifies one signature
   * per chunk. Serves any author, not only this node.
   */
  async *servePull(from: string, request: PullEntriesRequest): AsyncGenerator<PullEntriesResponse> {
    this.#core.admitPull(from);
    const { store } = this.#c;
    const author = toHex(request.author);
    const { tip, head: served } = this.#core.stored(author);
    const upTo = request.upToSeq > 0n ? Math.min(Number(request.upToSeq), tip.seq) : tip.seq;
    let after = Number(request.afterSeq);
    while (after < upTo) {
      let head = await store.headAtOrBefore(author, Math.min(upTo, after + rangeEntriesMax));
      if (!head || Number(head.head!.seq) <= after) head = await store.headAtOrAfter(author, after + 1);
      if (!head) return;
      const seq = Number(head.head!.seq);
      if (seq - after > rangeEntriesMax) return; // cannot happen while stored heads are at most rangeEntriesMax apart
      if (seq === tip.seq) head = served ?? head; // the freshest signature of the same head
      const entries = await store.entries(author, after + 1, seq, rangeEntriesMax);
      yield { entries: entries.map((e) => Buffer.from(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength)), head };
      after = seq;
    }
  }

  // ---- periodic ----

  /** One anti-entropy round with a random peer: exchange head vectors, then pull what is missing. */
  async antiEntropyRound(): Promise<void> {
    const peer = this.#core.antiEntropyPeer();
    if (peer === undefined) return;
    let response: ExchangeHeadsResponse;
    try {
      response = await this.#c.transport.exchangeHeads(peer, this.#core.headVector());
    } catch {
      return; // unreachable: the next round picks another peer
    }
    this.#core.learn(peer, response.heads, response.proofs);
    await this.#drain();
    // Waits for the pulls of the logs this round learned of; the own log's recovery runs on by itself.
    const authors = new Set(response.heads.map((h) => toHex(h.head?.author ?? Buffer.alloc(0))));
    authors.delete(this.nodeId);
    await Promise.all([...this.#pulls].filter(([author]) => authors.has(author)).map(([, running]) => running));
  }

  /** Resolves once nothing is left to apply and no pull runs: what tests wait for instead of timers. */
  async settled(): Promise<void> {
    for (;;) {
      await this.#drain();
      if (this.#pulls.size === 0) return;
      await Promise.all(this.#pulls.values());
    }
  }

  // ---- applying a Ready ----

  /** Applies Readys until the core has none; callers during a run share it (it picks up their work too). */
  #drain(): Promise<void> {
    if (this.#applying) return this.#applying;
    if (!this.#core.hasReady()) return Promise.resolve();
    this.#applying = (async () => {
      try {
        do await this.#apply(this.#core.ready());
        while (this.#core.hasReady());
      } catch (error) {
        this.#fail(error);
      } finally {
        this.#applying = undefined;
      }
    })();
    return this.#applying;
  }

  /** Applies one Ready in the order its contract states (./replica/ready.ts). */
  async #apply(ready: Ready): Promise<void> {
    const { store } = this.#c;
    const core = this.#core;
    for (const commit of ready.commits) {
      // Quarantined after this commit was decided: no more of its entries are stored.
      if (commit.entries.length > 0 && commit.author !== this.nodeId && core.isQuarantined(commit.author)) {
        core.skipped(commit);
        continue;
      }
      const views = commit.hashed.length > 0 && !core.isQuarantined(commit.author) ? await planCommit(store, core.policy, commit.author, commit.hashed, commit.validated) : undefined;
      await store.commit({ entries: commit.entries, heads: commit.heads, state: [...commit.state, ...(views?.changes ?? [])], durable: commit.durable });
      core.committed(commit);
      if (commit.event) this.#c.onEvent?.(commit.event);
      if (views?.governance && this.#init.genesis) core.applyGovernance(await storedGovernance(store), true);
    }
    for (const announcement of ready.announcements) this.#c.transport.announce(announcement);
    this.#resolveWritten(ready); // durable and announced: the writer may tell its caller
    for (const event of ready.events) this.#c.onEvent?.(event);
    if (ready.members) this.#init.members.replace(ready.members);
    if (ready.rebuildViews) await rebuildViews(store, core.tipsInGoodStanding(), core.policy);
    for (const { signed } of ready.checks) core.checked(signed, await this.#storedHistory(signed));
    for (const order of ready.pulls) this.#startPull(order);
    core.advance(ready);
  }

  #resolveWritten(ready: Ready): void {
    for (const [seq, hlc] of ready.written) {
      this.#waiting.get(seq)?.resolve({ author: this.nodeId, seq, hlc: hlc.toString() });
      this.#waiting.delete(seq);
    }
  }

  async #storedHistory(signed: SignedHead): Promise<StoredHistory> {
    const author = toHex(signed.head!.author);
    const seq = Number(signed.head!.seq);
    const covering = await this.#c.store.headAtOrAfter(author, seq);
    if (!covering || Number(covering.head!.seq) === seq) return { covering, chain: [] };
    return { covering, chain: await this.#c.store.entries(author, seq, Number(covering.head!.seq), rangeEntriesMax + 1) };
  }

  /** A store failure: nothing more is written, every waiting and later write rejects with the reason. */
  #fail(error: unknown): void {
    const fatal = error instanceof FatalError ? error : new FatalError(`the store failed: ${(error as Error).message ?? String(error)}`, { cause: error });
    this.#fatal ??= fatal;
    this.#core.close();
    for (const w of this.#waiting.values()) w.reject(fatal);
    this.#waiting.clear();
    this.#c.onFatal?.(fatal);
  }

  // ---- pulls ----

  #startPull(order: PullOrder): void {
    const running = this.#runPull(order).finally(() => {
      this.#pulls.delete(order.author);
      this.#core.pullDone(order.author);
      void this.#drain();
    });
    this.#pulls.set(order.author, running);
  }

  /** Pulls `author`'s missing entries: first from a peer known to have them, then the author, then other members. */
  async #runPull({ author, peers, acrossRotation }: PullOrder): Promise<void> {
    if (acrossRotation) {
      // From the one peer that claimed the head, stepping down to heads signed with keys known here.
      for (;;) {
        const before = this.#core.stored(author).tip.seq;
        if (before >= acrossRotation.claimedSeq || this.#core.closed) return;
        await this.#pullFrom(peers[0]!, author, before, acrossRotation.claimedSeq, true);
        if (this.#core.stored(author).tip.seq === before) return; // nothing more verifies from this peer
      }
    }
    for (const peer of peers) {
      const range = this.#core.missingRange(author);
      if (!range) return;
      const ok = await this.#pullFrom(peer, author, range.afterSeq, range.upToSeq, false);
      this.#core.pullReported(peer, author, ok);
    }
  }

  /**
   * Streams chunks from one peer. Each chunk is verified while the previous
   * one is being committed (CPU work overlaps the store's IO, one chunk deep).
   */
  async #pullFrom(peer: string, author: string, afterSeq: number, upToSeq: number, stepDown: boolean): Promise<boolean> {
    const core = this.#core;
    const cursor = core.startPull(peer, author, afterSeq, upToSeq, stepDown);
    if (!cursor) return false;
    let committing: Promise<void> = Promise.resolve();
    try {
      for await (const chunk of this.#c.transport.pullEntries(peer, { author: Buffer.from(author, 'hex'), afterSeq: BigInt(afterSeq), upToSeq: BigInt(upToSeq) })) {
        const outcome = core.pullChunk(cursor, chunk);
        await committing; // at most one chunk in flight: bounded memory
        if (outcome.next === 'restart') return await this.#pullFrom(peer, author, afterSeq, outcome.upToSeq, true);
        committing = this.#drain();
        if (outcome.next === 'stop') {
          await committing;
          return false;
        }
      }
      await committing;
      return core.pullEnded(cursor);
    } catch (error) {
      await committing;
      return core.pullFailed(cursor, error);
    }
  }

  // ---- what queries and status read ----

  /** The alliance's governance state (undefined without a genesis). */
  get governance(): GovernanceState | undefined {
    return this.#core.governance;
  }

  /** Who may write what, as of an hlc (queries use it for trusted CAs and recognition). */
  get policy(): ViewPolicy {
    return this.#core.policy;
  }

  get store(): Store {
    return this.#c.store;
  }

  get members(): Membership {
    return this.#init.members;
  }

  isQuarantined(author: string): boolean {
    return this.#core.isQuarantined(author);
  }

  /** Per member: stored and known seq, newest head signing time, last contact. */
  logs(): ReturnType<ReplicaCore['logs']> {
    return this.#core.logs();
  }

  /** Waits for queued commits; later writes are refused. */
  async close(): Promise<void> {
    await this.#drain();
    this.#core.close();
    await this.#drain();
  }
}
