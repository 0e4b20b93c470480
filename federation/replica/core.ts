import type { ExchangeHeadsResponse, PullEntriesResponse, Announcement } from '../../gen/tongxing/federation/v1/peer.js';
import type { EquivocationProof, SignedHead } from '../../gen/tongxing/log/v1/log.js';
import type { Record } from '../../gen/tongxing/records/v1/records.js';
import type { Sm2KeyPair } from '../crypto/sm2.js';
import { assert } from '../errors.js';
import type { GovernanceState, GovRecord } from '../governance/state.js';
import { toHex } from '../log/entry.js';
import { LogWriter } from '../log/writer.js';
import { Membership, type Member } from '../membership.js';
import type { ViewPolicy } from '../views/policy.js';
import { beacon, committed, propose, proposeAll, seal } from './commit.js';
import { checkStored, type StoredHistory } from './equivocation.js';
import { applyGovernance } from './governance.js';
import type { Commit, Ready } from './ready.js';
import { resumeOwnLog } from './recovery.js';
import { CoreState, type Clock, type CoreInit, type Random, type Tip } from './state.js';
import {
  headVector,
  learn,
  missingRange,
  orderPull,
  pullChunk,
  pullEnded,
  pullFailed,
  receiveAnnouncement,
  startPull,
  type ChunkOutcome,
  type PullCursor,
  type Verdict,
} from './sync.js';

export interface CoreOpen extends CoreInit {
  readonly nodeId: string;
  readonly keyPair: Sm2KeyPair;
  readonly members: readonly Member[];
  readonly policy: ViewPolicy;
  /** Stored heads (latest per author) and proofs, as the store holds them at open. */
  readonly heads: readonly SignedHead[];
  readonly proofs: readonly EquivocationProof[];
}

/**
 * The replication core of one node as a synchronous state machine: inputs
 * are method calls (a write, an announcement, a head vector, a pulled chunk,
 * what the store holds), decisions are immediate, and everything that needs
 * IO is collected into a Ready (./ready.ts states the order in which the
 * driver must apply it). It never awaits, reads no clock but the Clock it is
 * given and draws randomness only from its Random.
 */
export class ReplicaCore {
  readonly #s: CoreState;
  #inFlight: { ready: Ready; committed: number } | undefined;

  constructor(open: CoreOpen, clock: Clock, random: Random) {
    const selfHead = open.heads.find((h) => toHex(h.head!.author) === open.nodeId)?.head;
    const writer = new LogWriter(
      open.allianceId,
      open.keyPair,
      selfHead ? { seq: Number(selfHead.seq), hash: selfHead.entryHash, hlc: selfHead.hlc } : undefined,
      open.nodeId,
    );
    this.#s = new CoreState(open, open.nodeId, new Membership(open.members, { checkIds: false }), open.policy, writer, open.keyPair, clock, random);
    for (const signed of open.heads) {
      const author = toHex(signed.head!.author);
      this.#s.tips.set(author, { seq: Number(signed.head!.seq), hash: signed.head!.entryHash });
      this.#s.served.set(author, signed);
      this.#s.known.set(author, signed);
    }
    for (const proof of open.proofs) this.#s.proofs.set(toHex(proof.first!.head!.author), proof);
  }

  get nodeId(): string {
    return this.#s.nodeId;
  }

  // ---- inputs ----

  /** A local write: appended now, group-committed by the next Ready. Throws (appending nothing) when invalid or refused. */
  propose(record: Record): number {
    return propose(this.#s, record);
  }

  /** Records durable together or not at all (an import), group-committed by the next Ready as one commit. Returns their seqs. */
  proposeAll(records: readonly Record[]): number[] {
    return proposeAll(this.#s, records);
  }

  receiveAnnouncement(announcement: Announcement, from?: string, publisher?: string): Verdict {
    return receiveAnnouncement(this.#s, announcement, from, publisher);
  }

  /** A head vector from `peer`: its answer to our exchange, or its request on the serving side (a member only: throws MembershipError). */
  learn(peer: string, heads: readonly SignedHead[], proofs: readonly EquivocationProof[], asServer = false): void {
    if (asServer) this.#s.assertMember(peer);
    learn(this.#s, peer, heads, proofs);
  }

  /** A peer calls to pull: only active members may (throws MembershipError). */
  admitPull(peer: string): void {
    this.#s.assertMember(peer);
    this.#s.contact(peer);
  }

  headVector(): ExchangeHeadsResponse {
    return headVector(this.#s);
  }

  /** The peer for the next anti-entropy round, drawn at random among the other active members. */
  antiEntropyPeer(): string | undefined {
    const peers = this.#s.members.active().filter((m) => m.nodeId !== this.nodeId);
    if (peers.length === 0 || this.#s.closed) return undefined;
    return peers[this.#s.random.int(peers.length)]!.nodeId;
  }

  beacon(skipWithinMs = 0): void {
    beacon(this.#s, skipWithinMs);
  }

  /** The stored governance records (at open, or after a commit that touched them). */
  applyGovernance(records: readonly GovRecord[], rebuild: boolean): void {
    applyGovernance(this.#s, records, rebuild);
  }

  /** What the store holds around a head the last Ready asked to check. */
  checked(signed: SignedHead, history: StoredHistory): void {
    checkStored(this.#s, signed, history);
  }

  pull(author: string): void {
    orderPull(this.#s, author);
  }

  missingRange(author: string): { afterSeq: number; upToSeq: number } | undefined {
    return missingRange(this.#s, author);
  }

  startPull(peer: string, author: string, afterSeq: number, upToSeq: number, stepDown: boolean): PullCursor | undefined {
    return startPull(this.#s, peer, author, afterSeq, upToSeq, stepDown);
  }

  pullChunk(cursor: PullCursor, chunk: PullEntriesResponse): ChunkOutcome {
    return pullChunk(this.#s, cursor, chunk);
  }

  pullEnded(cursor: PullCursor): boolean {
    return pullEnded(this.#s, cursor);
  }

  pullFailed(cursor: PullCursor, error: unknown): false {
    return pullFailed(this.#s, cursor, error);
  }

  pullReported(peer: string, author: string, ok: boolean): void {
    this.#s.outbox.events.push({ type: 'pull', peer, author, ok });
  }

  /** A pull order is done: its slot is free, and a recovered own log is continued. */
  pullDone(author: string): void {
    this.#s.pulling.delete(author);
    if (author === this.nodeId) resumeOwnLog(this.#s);
  }

  // ---- Ready ----

  /** Local writes wait to be sealed; once closed (or stopped on a store failure) none are, so no Ready is owed for them. */
  get #sealDue(): boolean {
    return this.#s.writer.pendingCount > 0 && !this.#s.closed;
  }

  hasReady(): boolean {
    return this.#inFlight === undefined && (this.#sealDue || !this.#s.outbox.empty);
  }

  /** What to do now (seals the pending local writes into it). One Ready at a time: advance() before the next. */
  ready(): Ready {
    assert(this.#inFlight === undefined, 'ready() before the previous Ready was advanced');
    if (this.#sealDue) seal(this.#s);
    const ready = this.#s.outbox.take();
    this.#inFlight = { ready, committed: 0 };
    return ready;
  }

  /** One commit of the Ready in flight is durable (in order). */
  committed(commit: Commit): void {
    const flight = this.#inFlight;
    assert(flight !== undefined && flight.ready.commits[flight.committed] === commit, 'committed() out of order');
    flight.committed++;
    committed(this.#s, commit);
  }

  /** A commit the driver dropped because its author was quarantined before it was stored. */
  skipped(commit: Commit): void {
    const flight = this.#inFlight;
    assert(flight !== undefined && flight.ready.commits[flight.committed] === commit && this.#s.proofs.has(commit.author), 'skipped() a commit that must be stored');
    flight.committed++;
    this.#s.accepted.delete(commit.author);
  }

  /** The Ready is applied: every commit confirmed, messages sent. */
  advance(ready: Ready): void {
    const flight = this.#inFlight;
    assert(flight?.ready === ready && flight.committed === ready.commits.length, 'advance() before every commit of the Ready was confirmed');
    this.#inFlight = undefined;
  }

  /** Refuses writes and new work from now on (the driver drains what is queued). */
  close(): void {
    this.#s.closed = true;
  }

  // ---- what queries, status and the serving side read ----

  get closed(): boolean {
    return this.#s.closed;
  }

  get members(): Membership {
    return this.#s.members;
  }

  get policy(): ViewPolicy {
    return this.#s.policy;
  }

  get governance(): GovernanceState | undefined {
    return this.#s.governance;
  }

  get pendingWrites(): number {
    return this.#s.writer.pendingCount;
  }

  isQuarantined(author: string): boolean {
    return this.#s.proofs.has(author);
  }

  /** The stored tip of `author`'s log and the freshest signature of its head. */
  stored(author: string): { tip: Tip; head: SignedHead | undefined } {
    return { tip: this.#s.tipOf(author), head: this.#s.served.get(author) };
  }

  /** Stored tips of the authors in good standing: what a views rebuild replays. */
  tipsInGoodStanding(): Map<string, number> {
    const tips = new Map<string, number>();
    for (const [author, tip] of this.#s.tips) if (!this.#s.proofs.has(author)) tips.set(author, tip.seq);
    return tips;
  }

  /** Per member: stored and known seq, newest head signing time, last contact. */
  logs(): Array<{ nodeId: string; storedSeq: number; knownSeq: number; signedAtMs: number | undefined; lastContactMs: number | undefined; equivocated: boolean }> {
    const s = this.#s;
    return s.members.list().map((m) => ({
      nodeId: m.nodeId,
      storedSeq: m.nodeId === s.nodeId ? s.writer.tip.seq : (s.tips.get(m.nodeId)?.seq ?? 0),
      knownSeq: Number(s.known.get(m.nodeId)?.head?.seq ?? (m.nodeId === s.nodeId ? s.writer.tip.seq : 0)),
      signedAtMs: s.signedAt.get(m.nodeId),
      lastContactMs: s.lastContact.get(m.nodeId),
      equivocated: s.proofs.has(m.nodeId),
    }));
  }
}
