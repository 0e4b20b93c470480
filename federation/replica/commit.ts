import type { SignedHead } from '../../gen/tongxing/log/v1/log.js';
import type { Record } from '../../gen/tongxing/records/v1/records.js';
import { assert, MembershipError, UnavailableError } from '../errors.js';
import { announceBytesMax } from '../limits.js';
import { toHex } from '../log/entry.js';
import type { Commit } from './ready.js';
import { ownLogBehind } from './recovery.js';
import type { CoreState } from './state.js';

// This node's own log: local writes are appended in memory and group-committed
// under one signed head per Ready.

/** Appends a record to the writer; returns its seq. Throws (appending nothing) for an invalid record or when this node may not write. */
export function propose(core: CoreState, record: Record): number {
  if (core.closed) throw new UnavailableError('replica is closed');
  const behind = ownLogBehind(core);
  if (behind) throw new UnavailableError(behind);
  if (!core.members.isActive(core.nodeId)) {
    const status = core.members.get(core.nodeId)?.status ?? 'not yet admitted (or its admission has not reached this node)';
    throw new MembershipError(`this node is ${status}: it writes once governance makes it an active member`);
  }
  const seq = Number(core.writer.append(record, core.clock.nowMs()).entry.seq);
  core.sealWanted = true;
  return seq;
}

/** Seals the pending writes under one head into the outbox: stored durably, then announced. */
export function seal(core: CoreState): void {
  core.sealWanted = false;
  const sealed = core.writer.seal(core.clock.nowMs(), core.random);
  if (!sealed) return;
  const head = sealed.head.head!;
  const fromSeq = sealed.entries[0]!.seq;
  core.outbox.commits.push({
    author: core.nodeId,
    entries: sealed.entries,
    hashed: sealed.hashed,
    heads: [sealed.head],
    state: [],
    durable: true,
    validated: true,
    event: { type: 'ingested', author: core.nodeId, fromSeq, toSeq: Number(head.seq), source: 'local' },
  });
  for (const { entry } of sealed.hashed) core.outbox.written.set(Number(entry.seq), entry.hlc);
  announceHead(core, sealed.head, sealed.entries.map((e) => e.bytes));
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
