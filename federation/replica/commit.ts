import type { SignedHead } from '../../gen/tongxing/log/v1/log.js';
import type { Record } from '../../gen/tongxing/records/v1/records.js';
import { assert, LimitError, MembershipError, UnavailableError } from '../errors.js';
import { announceBytesMax, atomicWriteEntriesMax } from '../limits.js';
import type { SealedBatch } from '../log/writer.js';
import { toHex } from '../log/entry.js';
import type { Commit } from './ready.js';
import { ownLogBehind } from './recovery.js';
import type { CoreState } from './state.js';

// This node's own log: local writes are appended in memory and group-committed
// under one signed head per Ready.

/** Why this node may not write now, as the error to throw; undefined when it may. */
function writeRefusal(core: CoreState): Error | undefined {
  if (core.closed) return new UnavailableError('replica is closed');
  const behind = ownLogBehind(core);
  if (behind) return new UnavailableError(behind);
  if (!core.members.isActive(core.nodeId)) {
    const status = core.members.get(core.nodeId)?.status ?? 'not yet admitted (or its admission has not reached this node)';
    return new MembershipError(`this node is ${status}: it writes once governance makes it an active member`);
  }
  return undefined;
}

/** Appends a record to the writer; returns its seq. Throws (appending nothing) for an invalid record or when this node may not write. */
export function propose(core: CoreState, record: Record): number {
  const refusal = writeRefusal(core);
  if (refusal) throw refusal;
  return Number(core.writer.append(record, core.clock.nowMs()).entry.seq);
}

/**
 * Records that must be durable together or not at all (an import): sealed at
 * once, with any pending writes before them, into consecutive batches of one
 * commit (one atomic store batch), announced when it is durable. Nothing of
 * them reaches a peer before all of them are stored here, so no member ever
 * holds part of them. Throws, appending nothing, when any record is invalid
 * (ValidationError naming records[i]) or there are more than atomicWriteEntriesMax.
 */
export function proposeAll(core: CoreState, records: readonly Record[]): number[] {
  const refusal = writeRefusal(core);
  if (refusal) throw refusal;
  if (records.length > atomicWriteEntriesMax) {
    throw new LimitError(`${records.length} records written together: at most atomicWriteEntriesMax (${atomicWriteEntriesMax})`);
  }
  const nowMs = core.clock.nowMs();
  const pending = core.writer.seal(nowMs, core.random);
  let batches: SealedBatch[] = [];
  try {
    batches = core.writer.sealAll(records, nowMs, core.random);
  } finally {
    commitLocal(core, [...(pending ? [pending] : []), ...batches]); // the pending writes go either way
  }
  return batches.flatMap((b) => b.entries.map((e) => e.seq));
}

/** Seals the pending writes under one head into the outbox: stored durably, then announced. */
export function seal(core: CoreState): void {
  const sealed = core.writer.seal(core.clock.nowMs(), core.random);
  if (sealed) commitLocal(core, [sealed]);
}

/** Consecutive sealed batches of this node's log as one commit, announced by the last head. */
function commitLocal(core: CoreState, batches: readonly SealedBatch[]): void {
  if (batches.length === 0) return;
  const entries = batches.flatMap((b) => b.entries);
  const last = batches[batches.length - 1]!.head;
  core.outbox.commits.push({
    author: core.nodeId,
    entries,
    hashed: batches.flatMap((b) => b.hashed),
    heads: batches.map((b) => b.head),
    state: [],
    durable: true,
    validated: true,
    event: { type: 'ingested', author: core.nodeId, fromSeq: entries[0]!.seq, toSeq: Number(last.head!.seq), source: 'local' },
  });
  for (const batch of batches) for (const { entry } of batch.hashed) core.outbox.written.set(Number(entry.seq), entry.hlc);
  announceHead(core, last, entries.map((e) => e.bytes));
}

function announceHead(core: CoreState, head: SignedHead, entries: readonly Uint8Array[]): void {
  core.lastAnnouncedMs = core.clock.nowMs();
  let bytes = 0;
  for (const e of entries) bytes += e.length;
  const ride = bytes <= announceBytesMax ? entries.map((e) => Buffer.from(e)) : [];
  core.outbox.announcements.push({ kind: { $case: 'head', value: { head, entries: ride } } });
}

/**
 * Re-signs this node's head as a liveness beacon, so peers can tell its data
 * is fresh; skipped when a head was announced within `skipWithinMs` (a
 * batch's head says as much). The beacon travels in head vectors, passed on
 * from node to node by anti-entropy, not on gossip: gossiping every beacon
 * to every member costs O(N^2) messages and verifications per interval.
 */
export function beacon(core: CoreState, skipWithinMs: number): void {
  if (core.closed || core.writer.pendingCount > 0 || ownLogBehind(core)) return;
  if (core.clock.nowMs() - core.lastAnnouncedMs < skipWithinMs) return;
  const signed = core.writer.resign(core.clock.nowMs(), core.random);
  core.noteSignedAt(core.nodeId, Number(signed.head!.signedAtMs));
  core.served.set(core.nodeId, signed);
}

/** A commit is durable: its head is now the stored tip, served to peers. */
export function committed(core: CoreState, commit: Commit): void {
  for (const signed of commit.heads) {
    const head = signed.head!;
    const author = toHex(head.author);
    assert(author === commit.author, 'a commit holds heads of its own author only');
    assert(Number(head.seq) > core.tipOf(author).seq, `commit of ${author.slice(0, 12)} at seq ${head.seq} does not extend the stored tip`);
    core.tips.set(author, { seq: Number(head.seq), hash: head.entryHash });
    core.served.set(author, signed);
    const known = core.known.get(author);
    if (!known || head.seq >= known.head!.seq) core.known.set(author, signed);
    core.noteSignedAt(author, Number(head.signedAtMs));
    const accepted = core.accepted.get(author);
    if (accepted && accepted.seq <= Number(head.seq)) core.accepted.delete(author);
  }
}
