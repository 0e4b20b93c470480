// Invariants, checked while the alliance runs and once faults have stopped.
// Ground truth comes from the honest authors themselves: every entry an
// honest node appends to its own log is captured when it is committed, and
// every sanction it issues when the write is acknowledged.
//
// During the run:
// - forged-entry-stored: an honest node stored an entry of an honest author
//   that differs from what the author wrote (checked at every ingest);
// - honest-quarantined: an honest node holds an equivocation proof against
//   an honest author;
// - unbounded-growth: a bounded structure (gossip seen-cache, peer scores,
//   pull sessions, pulls in flight, pending events) went past its bound.
// After faults stop (checkFinal):
// - not-converged: an honest node misses entries of an honest author;
// - sanction-lost: an honest node has no view of a sanction an honest author issued;
// - invalid-chain-stored: an honest node stores a log of a Byzantine author
//   that is not one hash chain under heads the author signed;
// - invalid-record-applied: a stored record that fails validation has no
//   view/rejected/ entry (so a view may have counted it);
// - views-differ: the hashes of all `view/` state differ between honest nodes;
// - equivocation-undetected: an honest node did not quarantine a member
//   whose two histories both reached honest nodes (stored by some, or proven);
// - false-quarantine: an honest node holds a proof against a member that
//   never signed two heads at one seq (checked when the proof is made).

import { createHash } from 'node:crypto';
import type { SignedHead } from '../gen/tongxing/log/v1/log.js';
import type { Record as TongxingRecord } from '../gen/tongxing/records/v1/records.js';
import { sm3 } from '../federation/crypto/sm3.js';
import { TongxingError } from '../federation/errors.js';
import { pullsInFlightPerPeerMax, rangeEntriesMax } from '../federation/limits.js';
import { decodeRecord, toHex, zeroHash, type HashedEntry } from '../federation/log/entry.js';
import { verifyRange } from '../federation/log/verify.js';
import { validateRecord } from '../federation/records/validate.js';
import type { ReplicaEvent } from '../federation/replica.js';
import type { Store } from '../federation/store/store.js';
import { rejectionKey } from '../federation/views/apply.js';
import { sanctionKey } from '../federation/views/sanction.js';
import type { Alliance, AllianceObserver, SimNode } from './alliance.js';
import { finishedStreamsPerCallerMax } from './transport.js';

export type ViolationKind =
  | 'forged-entry-stored'
  | 'honest-quarantined'
  | 'unbounded-growth'
  | 'not-converged'
  | 'sanction-lost'
  | 'invalid-chain-stored'
  | 'invalid-record-applied'
  | 'views-differ'
  | 'equivocation-undetected'
  | 'false-quarantine';

export interface Violation {
  readonly kind: ViolationKind;
  readonly atMs: number;
  readonly node?: string;
  readonly detail: string;
}

/** Kept in full up to this many; beyond, only counted (a broken run may violate thousands of times). */
const violationsKeptMax = 200;

export interface IssuedSanction {
  readonly issuer: string;
  readonly sanctionId: string;
  readonly seq: number;
}

export interface BoundsObserved {
  seenEntriesMax: number;
  scoredPeersMax: number;
  pullSessionsMax: number;
  pullsOpenMax: number;
  pendingEventsMax: number;
}

export class InvariantChecker implements AllianceObserver {
  readonly violations: Violation[] = [];
  violationCount = 0;
  readonly issued: IssuedSanction[] = [];
  /**
   * Members whose equivocation reached honest nodes: both of two conflicting
   * heads stored by honest nodes, or a proof made by one. Only these must be
   * detected: a fork lost on the way to everyone proves nothing to anyone.
   */
  readonly equivocators = new Set<string>();
  /** Conflicting heads signed by Byzantine members: author -> seq and the entry hashes of the forks, with those honest nodes stored. */
  readonly #forks = new Map<string, { seq: number; hashes: string[]; reached: Set<string> }>();
  readonly bounds: BoundsObserved = { seenEntriesMax: 0, scoredPeersMax: 0, pullSessionsMax: 0, pullsOpenMax: 0, pendingEventsMax: 0 };
  /** Entry bytes of every honest author's own log, by author, index seq - 1. */
  readonly #truth = new Map<string, Uint8Array[]>();
  readonly #alliance: Alliance;
  readonly #pendingEventsMax: number;
  /** Ingest checks whose truth was not known yet (re-checked at the end by the full comparison). */
  uncheckedIngests = 0;
  ingestChecks = 0;

  constructor(alliance: Alliance) {
    this.#alliance = alliance;
    const { nodes, mesh } = alliance.config;
    // In flight at once: every node's timers and sessions plus, per node, a gossip flood of its mesh degree for a few rounds.
    this.#pendingEventsMax = 64 * nodes * mesh.degreeHigh + 10_000;
  }

  report(kind: ViolationKind, detail: string, node?: SimNode): void {
    this.violationCount++;
    if (this.violations.length < violationsKeptMax) {
      this.violations.push({ kind, atMs: this.#alliance.scheduler.now, node: node?.label, detail });
    }
  }

  truthSeq(author: string): number {
    return this.#truth.get(author)?.length ?? 0;
  }

  /** A sanction issue or lift recorded as issued by `issuer` (for tests: a sanction no node ever stored). */
  recordIssued(sanction: IssuedSanction): void {
    this.issued.push(sanction);
  }

  /** A Byzantine member signed two heads at one seq (the harness reports it as it happens). */
  equivocationSigned(author: SimNode, heads: readonly SignedHead[]): void {
    const seq = Number(heads[0]!.head!.seq);
    this.#forks.set(author.id, { seq, hashes: heads.map((h) => toHex(h.head!.entryHash)), reached: new Set() });
  }

  async #noteFork(node: SimNode, author: string, fromSeq: number, toSeq: number): Promise<void> {
    const fork = this.#forks.get(author);
    if (fork === undefined || fork.seq < fromSeq || fork.seq > toSeq) return;
    const [entry] = await node.store.disk.entries(author, fork.seq, fork.seq, 1);
    if (entry === undefined) return;
    fork.reached.add(toHex(sm3(entry.bytes)));
    if (fork.hashes.every((hash) => fork.reached.has(hash))) this.equivocators.add(author);
  }

  onWrite(node: SimNode, seq: number, record: TongxingRecord): void {
    if (record.kind?.$case === 'sanctionIssue') this.issued.push({ issuer: node.id, sanctionId: record.kind.value.sanctionId, seq });
  }

  onReplicaEvent(node: SimNode, event: ReplicaEvent): void {
    if (event.type === 'ingested') {
      if (!node.honest) return;
      if (event.source === 'local') {
        void this.#captureTruth(node, event.fromSeq, event.toSeq);
        return;
      }
      if (!this.#alliance.node(event.author).honest) {
        void this.#noteFork(node, event.author, event.fromSeq, event.toSeq);
        return;
      }
      void this.#checkIngest(node, event.author, event.fromSeq, event.toSeq);
    } else if (event.type === 'equivocation') {
      if (node.honest && !this.#alliance.node(event.author).honest) {
        if (this.#forks.has(event.author)) this.equivocators.add(event.author);
        else this.report('false-quarantine', `${node.label} holds a proof against ${this.#alliance.node(event.author).label}, which never signed two heads at one seq`, node);
      }
      if (node.honest && this.#alliance.node(event.author).honest) {
        this.report('honest-quarantined', `${node.label} holds an equivocation proof against honest ${this.#alliance.node(event.author).label} at seq ${event.seq}`, node);
      }
    }
  }

  async #captureTruth(node: SimNode, fromSeq: number, toSeq: number): Promise<void> {
    const entries = await node.store.disk.entries(node.id, fromSeq, toSeq, toSeq - fromSeq + 1);
    let log = this.#truth.get(node.id);
    if (log === undefined) {
      log = [];
      this.#truth.set(node.id, log);
    }
    if (log.length !== fromSeq - 1) {
      this.report('forged-entry-stored', `${node.label} appended its own seq ${fromSeq}..${toSeq} after ${log.length} known entries`, node);
    }
    for (const entry of entries) log[entry.seq - 1] = entry.bytes;
  }

  async #checkIngest(node: SimNode, author: string, fromSeq: number, toSeq: number): Promise<void> {
    const stored = await node.store.disk.entries(author, fromSeq, toSeq, toSeq - fromSeq + 1);
    const truth = this.#truth.get(author);
    this.ingestChecks++;
    if (truth === undefined || truth.length < toSeq) {
      this.uncheckedIngests++;
      return;
    }
    for (const entry of stored) {
      if (!Buffer.from(entry.bytes).equals(truth[entry.seq - 1]!)) {
        this.report('forged-entry-stored', `${node.label} stored seq ${entry.seq} of ${this.#alliance.node(author).label} unlike what its author wrote`, node);
        return;
      }
    }
  }

  /** Checks every bounded structure against its bound; call periodically. */
  sampleBounds(): void {
    const alliance = this.#alliance;
    const members = alliance.members.size;
    const { seenEntriesMax } = alliance.config.gossip;
    const sessionsMax = members * (pullsInFlightPerPeerMax + finishedStreamsPerCallerMax);
    const b = this.bounds;
    for (const node of alliance.nodes) {
      if (!node.honest || node.status === 'down') continue;
      const seen = node.gossip?.seenSize ?? 0;
      const scored = node.gossip?.scoredPeers ?? 0;
      const sessions = node.server?.sessions ?? 0;
      const pulls = node.transport?.pullsOpen ?? 0;
      b.seenEntriesMax = Math.max(b.seenEntriesMax, node.gossip?.seenSizeMax ?? 0);
      b.scoredPeersMax = Math.max(b.scoredPeersMax, scored);
      b.pullSessionsMax = Math.max(b.pullSessionsMax, sessions);
      b.pullsOpenMax = Math.max(b.pullsOpenMax, pulls);
      if (seen > seenEntriesMax) this.report('unbounded-growth', `${node.label}: gossip seen-cache holds ${seen} ids, bound ${seenEntriesMax}`, node);
      if (scored > members) this.report('unbounded-growth', `${node.label}: scores ${scored} peers, alliance has ${members}`, node);
      if (sessions > sessionsMax) this.report('unbounded-growth', `${node.label}: ${sessions} pull sessions, bound ${sessionsMax}`, node);
      // The replica pulls one author at a time, so at most one stream per member is open or queued.
      if (pulls > members) this.report('unbounded-growth', `${node.label}: ${pulls} pulls open, bound ${members}`, node);
    }
    const pending = alliance.scheduler.pending;
    b.pendingEventsMax = Math.max(b.pendingEventsMax, pending);
    if (pending > this.#pendingEventsMax) this.report('unbounded-growth', `${pending} events pending, bound ${this.#pendingEventsMax}`);
  }

  /** Whether every honest node stores every honest author's whole log and quarantines every equivocator (cheap; polled). */
  converged(): boolean {
    const alliance = this.#alliance;
    for (const node of alliance.nodes) {
      if (!node.honest) continue;
      const replica = node.replica;
      if (replica === undefined) return false;
      for (const log of replica.logs()) {
        if (!alliance.node(log.nodeId).honest || log.nodeId === node.id) continue;
        if (log.storedSeq !== this.truthSeq(log.nodeId)) return false;
      }
      for (const author of this.equivocators) if (!replica.isQuarantined(author)) return false;
    }
    return true;
  }

  /** The checks that hold once faults have stopped and the alliance had time to converge. */
  async checkFinal(): Promise<void> {
    const alliance = this.#alliance;
    const honest = alliance.nodes.filter((node) => node.honest);
    const viewHashes = new Map<string, SimNode[]>();
    for (const node of honest) {
      const replica = node.replica;
      if (replica === undefined) {
        this.report('not-converged', `${node.label} is down at the end`, node);
        continue;
      }
      const store = node.store.disk;
      for (const author of alliance.nodes) {
        if (author === node) continue;
        if (author.honest) await this.#compareLog(node, store, author);
        else await this.#verifyLog(node, store, author);
        const quarantined = replica.isQuarantined(author.id);
        if (author.honest) continue; // an honest author's quarantine was reported when it happened
        if (this.equivocators.has(author.id) && !quarantined) {
          this.report('equivocation-undetected', `${node.label} did not quarantine ${author.label}, whose two histories both reached honest nodes`, node);
        }
      }
      for (const sanction of this.issued) {
        if ((await store.getState(sanctionKey(sanction.issuer, sanction.sanctionId))) === undefined) {
          this.report('sanction-lost', `${node.label} has no sanction ${sanction.sanctionId} of ${alliance.node(sanction.issuer).label}`, node);
        }
      }
      const hash = await viewHash(store);
      const group = viewHashes.get(hash);
      if (group === undefined) viewHashes.set(hash, [node]);
      else group.push(node);
    }
    if (viewHashes.size > 1) {
      const groups = [...viewHashes.entries()].sort((a, b) => b[1].length - a[1].length);
      const summary = groups.map(([hash, nodes]) => `${hash.slice(0, 12)}: ${nodes.length} (${nodes.slice(0, 3).map((n) => n.label).join(', ')}${nodes.length > 3 ? ', ...' : ''})`).join('; ');
      this.report('views-differ', `honest nodes hold ${viewHashes.size} different views: ${summary}`);
    }
  }

  /** An honest author's log as `node` stores it must be exactly what the author wrote. */
  async #compareLog(node: SimNode, store: Store, author: SimNode): Promise<void> {
    const truth = this.#truth.get(author.id) ?? [];
    const storedSeq = Number((await store.latestHead(author.id))?.head?.seq ?? 0);
    if (storedSeq < truth.length) {
      this.report('not-converged', `${node.label} stores ${storedSeq} of ${truth.length} entries of ${author.label}`, node);
    }
    const entries = await store.entries(author.id, 1, storedSeq, storedSeq);
    if (entries.length !== storedSeq || storedSeq > truth.length) {
      this.report('forged-entry-stored', `${node.label} stores ${entries.length} entries of ${author.label} under a head at ${storedSeq}; its author wrote ${truth.length}`, node);
      return;
    }
    for (const entry of entries) {
      if (!Buffer.from(entry.bytes).equals(truth[entry.seq - 1]!)) {
        this.report('forged-entry-stored', `${node.label} stores seq ${entry.seq} of ${author.label} unlike what its author wrote`, node);
        return;
      }
    }
  }

  /**
   * A Byzantine author's log as `node` stores it must be one hash chain under
   * heads signed by the author; each invalid record in it must be set aside
   * as rejected (views ignore it).
   */
  async #verifyLog(node: SimNode, store: Store, author: SimNode): Promise<void> {
    const tipSeq = Number((await store.latestHead(author.id))?.head?.seq ?? 0);
    let after = 0;
    let hash: Uint8Array = zeroHash;
    try {
      while (after < tipSeq) {
        let head = await store.headAtOrBefore(author.id, Math.min(tipSeq, after + rangeEntriesMax));
        if (head === undefined || Number(head.head!.seq) <= after) head = await store.headAtOrAfter(author.id, after + 1);
        if (head === undefined) throw new Error(`no stored head after seq ${after}`);
        const seq = Number(head.head!.seq);
        const entries = await store.entries(author.id, after + 1, seq, seq - after);
        const verified = verifyRange({ allianceId: this.#alliance.allianceId, publicKey: author.keyPair.publicKey, signedHead: head, tip: { seq: after, hash }, entries: entries.map((e) => e.bytes) });
        for (const entry of verified.entries) {
          if (recordIsValid(entry)) continue;
          const seqOf = Number(entry.entry.seq);
          if ((await store.getState(rejectionKey(author.id, seqOf))) === undefined) {
            this.report('invalid-record-applied', `${node.label} stores an invalid record at seq ${seqOf} of ${author.label} without setting it aside`, node);
          }
        }
        after = seq;
        hash = head.head!.entryHash;
      }
    } catch (error) {
      this.report('invalid-chain-stored', `${node.label} stores a log of ${author.label} that does not verify after seq ${after}: ${(error as Error).message}`, node);
    }
  }
}

function recordIsValid(entry: HashedEntry): boolean {
  try {
    validateRecord(decodeRecord(entry.entry));
    return true;
  } catch (error) {
    if (error instanceof TongxingError) return false;
    throw error;
  }
}

/** SHA-256 over every `view/` key and value of a store, in key order: equal views, equal hashes. */
export async function viewHash(store: Store): Promise<string> {
  const hash = createHash('sha256');
  const length = Buffer.alloc(4);
  for (const [key, value] of await store.stateRange('view/', Number.MAX_SAFE_INTEGER)) {
    length.writeUInt32BE(key.length);
    hash.update(length).update(key);
    length.writeUInt32BE(value.length);
    hash.update(length).update(value);
  }
  return hash.digest('hex');
}
