import type { Announcement, ExchangeHeadsResponse, PullEntriesResponse } from '../../gen/tongxing/federation/v1/peer.js';
import type { EquivocationProof, Head, SignedHead } from '../../gen/tongxing/log/v1/log.js';
import { ChainError, MembershipError, SignatureError, TongxingError } from '../errors.js';
import { gossipHeadAgeMsMax, pullPeersMax } from '../limits.js';
import { decodeEntry, equalBytes, toHex, type HashedEntry } from '../log/entry.js';
import { makeProof } from '../log/equivocation.js';
import { ForkError, verifyRange } from '../log/verify.js';
import { checkConsistent, receiveProof, recordProof } from './equivocation.js';
import { ownHead, stepDownTo } from './recovery.js';
import type { CoreState, Tip } from './state.js';

// Learning other members' logs: gossip announcements, head vectors
// (anti-entropy) and pulls. Every decision here is synchronous; what needs
// IO leaves through the outbox (commits, checks, pull orders).

export type Verdict = 'accept' | 'reject' | 'ignore';

/**
 * Gossip validator and handler in one: verifies before answering, so an
 * invalid announcement is never forwarded ('reject' lowers the sender's
 * score). `from` is the member it came from (the relay). `publisher` is the
 * member that published it, when the transport authenticates publishers
 * (libp2p StrictSign); it turns on the publisher rules: a member publishes
 * only its own heads, each once as it signs it (so a head of another author,
 * or one signed more than gossipHeadAgeMsMax ago, is rejected), and its
 * announcements may cost at most gossipVerificationsPerPeerPerSecondMax
 * signature checks a second (beyond that they are ignored and left to
 * anti-entropy). Every check that needs no signature comes before the
 * signature is verified.
 */
export function receiveAnnouncement(core: CoreState, announcement: Announcement, from?: string, publisher?: string): Verdict {
  const kind = announcement.kind;
  if (kind?.$case === 'proof') return receiveProof(core, kind.value, from, publisher);
  if (kind?.$case !== 'head' || !kind.value.head?.head) return core.reject(from, 'empty announcement');
  const signed = kind.value.head;
  const head = signed.head!;
  const author = toHex(head.author);
  const refusal = publisher === undefined ? undefined : publisherRefusal(core, head, author, publisher);
  if (refusal !== undefined) return core.reject(from, refusal);
  // Not (or no longer) a member here: the relay may be an epoch ahead of this
  // node, so the head is not forwarded, but the relay is not penalised either.
  if (!core.members.has(author)) return 'ignore';
  if (author !== core.nodeId && core.proofs.has(author)) return 'ignore';
  if (author !== core.nodeId && kind.value.entries.length === 0 && heardBefore(core, head, author)) return 'ignore';
  if (publisher !== undefined && !core.verifications.take(publisher, core.clock.nowMs())) return 'ignore';
  let range: HashedEntry[] = [];
  try {
    const publicKey = core.signerKey(author, signed);
    const entries = kind.value.entries;
    if (entries.length > 0) {
      // Checked against the batch's own first prev; whether it extends our log is decided at ingest.
      const first = decodeEntry(entries[0]!, 'entries[0]');
      const tip = { seq: Number(head.seq) - entries.length, hash: first.entry.prev };
      range = verifyRange({ allianceId: core.init.allianceId, publicKey, keyOwner: author, signedHead: signed, tip, entries }).entries;
    }
  } catch (error) {
    // A suspended or removed member's head past its cutoff: as for a non-member above.
    if (error instanceof MembershipError) return 'ignore';
    return core.reject(from, `announcement from ${author.slice(0, 12)}: ${(error as Error).message}`);
  }
  if (author === core.nodeId) return ownHead(core, signed, from, (a) => orderPull(core, a));
  const stale = Number(head.seq) <= core.acceptedOf(author).seq && Number(head.signedAtMs) <= (core.signedAt.get(author) ?? -1);
  if (from !== undefined && core.members.has(from)) core.contact(from);
  onHead(core, signed, range, author);
  // A replayed or already-seen head is checked for consistency but not forwarded.
  return stale ? 'ignore' : 'accept';
}

/** Why an authenticated publisher may not have published this head, if it may not. */
function publisherRefusal(core: CoreState, head: Head, author: string, publisher: string): string | undefined {
  if (publisher !== author) return `head of ${author.slice(0, 12)} published by ${publisher.slice(0, 12)}: a member publishes only its own heads`;
  const ageMs = core.clock.nowMs() - Number(head.signedAtMs);
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
function heardBefore(core: CoreState, head: Head, author: string): boolean {
  const known = core.known.get(author)?.head;
  return known !== undefined && head.seq === known.seq && head.signedAtMs <= known.signedAtMs && equalBytes(head.entryHash, known.entryHash);
}

/** The heads this node serves and the proofs it holds: what anti-entropy exchanges. */
export function headVector(core: CoreState): ExchangeHeadsResponse {
  return { heads: [...core.served.values()], proofs: [...core.proofs.values()] };
}

/** A peer's head vector (its answer, or its request on the serving side). */
export function learn(core: CoreState, peer: string, heads: readonly SignedHead[], proofs: readonly EquivocationProof[]): void {
  core.contact(peer);
  // At most one proof per member can matter; more is a peer wasting our SM2 verifications.
  for (const proof of proofs.slice(0, core.members.size)) receiveProof(core, proof, peer);
  for (const signed of heads.slice(0, core.members.size)) {
    const author = toHex(signed.head?.author ?? Buffer.alloc(0));
    if (!core.members.has(author) || core.proofs.has(author)) continue;
    const known = core.known.get(author)?.head;
    const head = signed.head!;
    const tipSeq = core.acceptedOf(author).seq;
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
      core.signerKey(author, signed);
    } catch (error) {
      if (error instanceof SignatureError && Number(head.seq) > tipSeq && !core.pulling.has(author)) {
        // Perhaps signed with a key this node has not learned of yet: the
        // rotation is in the part of the log it lacks. Pull what verifies.
        core.pulling.add(author);
        core.outbox.pulls.push({ author, peers: [peer], acrossRotation: { claimedSeq: Number(head.seq) } });
      } else core.reject(peer, `head vector: ${(error as Error).message}`);
      continue;
    }
    if (author === core.nodeId) {
      ownHead(core, signed, peer, (a) => orderPull(core, a));
      continue;
    }
    core.sources.set(author, peer);
    onHead(core, signed, [], peer);
  }
}

/** A verified head (with the verified batch that rode along, if any). */
function onHead(core: CoreState, signed: SignedHead, range: readonly HashedEntry[], source: string): void {
  const head = signed.head!;
  const author = toHex(head.author);
  const seq = Number(head.seq);
  core.noteSignedAt(author, Number(head.signedAtMs));
  const known = core.known.get(author)?.head;
  const tip = core.acceptedOf(author);
  if (!known || seq > Number(known.seq)) {
    core.known.set(author, signed);
    if (source !== author) core.sources.set(author, source);
  } else if (seq === Number(known.seq) && head.entryHash.equals(known.entryHash) && head.signedAtMs > known.signedAtMs) {
    // A fresher signature of the same head: pass the freshness on in head vectors.
    core.known.set(author, signed);
    if (seq === core.tipOf(author).seq) core.served.set(author, signed);
  }
  if (seq <= tip.seq) return checkConsistent(core, signed);
  const first = seq - range.length + 1;
  if (range.length > 0 && first <= tip.seq + 1) ingest(core, signed, range.slice(tip.seq + 1 - first), 'gossip');
  if (seq > core.acceptedOf(author).seq) orderPull(core, author);
}

/**
 * Accepts a verified range if it extends the accepted log (another path may
 * have accepted it meanwhile): a commit for the driver to store. A range whose
 * first entry does not link to the accepted tip proves an equivocation.
 */
function ingest(core: CoreState, signed: SignedHead, range: readonly HashedEntry[], source: 'gossip' | 'pull'): void {
  const head = signed.head!;
  const author = toHex(head.author);
  if (core.proofs.has(author)) return;
  const tip = core.acceptedOf(author);
  const seq = Number(head.seq);
  if (seq <= tip.seq) return;
  const entries = range.slice(range.length - (seq - tip.seq));
  if (entries.length !== seq - tip.seq) return; // a gap: the pull fills it
  if (!equalBytes(entries[0]!.entry.prev, tip.hash)) {
    recordProof(core, makeProof(core.acceptedHead(author), signed, entries.map((e) => e.bytes)));
    return;
  }
  const stored = entries.map((e) => ({ author, seq: Number(e.entry.seq), bytes: e.bytes }));
  core.outbox.commits.push({
    author,
    entries: stored,
    hashed: entries,
    heads: [signed],
    state: [],
    durable: false,
    validated: false,
    event: { type: 'ingested', author, fromSeq: stored[0]!.seq, toSeq: seq, source },
  });
  core.accepted.set(author, { seq, hash: head.entryHash, head: signed });
  core.writer.observe(head.hlc); // our next entries order after what we have seen
}

// ---- pulls ----

/** Orders a pull of `author`'s missing entries unless one is running (one pull slot per author). */
export function orderPull(core: CoreState, author: string): void {
  if (core.closed || core.pulling.has(author)) return;
  core.pulling.add(author);
  core.outbox.pulls.push({ author, peers: pullCandidates(core, author) });
}

/** A peer known to have the entries first, then the author, then other members in random order. */
function pullCandidates(core: CoreState, author: string): string[] {
  const others = core.members.active().map((m) => m.nodeId).filter((id) => id !== core.nodeId && id !== author);
  for (let i = others.length - 1; i > 0; i--) {
    const j = core.random.int(i + 1);
    [others[i], others[j]] = [others[j]!, others[i]!];
  }
  const source = core.sources.get(author);
  const first = [source, author].filter((p): p is string => p !== undefined && p !== core.nodeId && core.members.isActive(p));
  return [...new Set([...first, ...others])].slice(0, pullPeersMax);
}

/** What is still missing of `author`'s log: after the accepted tip, up to the known head; undefined when nothing is. */
export function missingRange(core: CoreState, author: string): { afterSeq: number; upToSeq: number } | undefined {
  const upToSeq = Number(core.known.get(author)?.head?.seq ?? 0);
  const afterSeq = core.acceptedOf(author).seq;
  if (afterSeq >= upToSeq || core.proofs.has(author) || core.closed) return undefined;
  return { afterSeq, upToSeq };
}

/** One pull from one peer: where its chunks must continue. */
export interface PullCursor {
  readonly peer: string;
  readonly author: string;
  readonly afterSeq: number;
  readonly upToSeq: number;
  /** Across a rotation: a first chunk signed with an unknown key asks for less instead of failing. */
  readonly stepDown: boolean;
  expected: Tip;
}

export type ChunkOutcome = { readonly next: 'more' } | { readonly next: 'stop' } | { readonly next: 'restart'; readonly upToSeq: number };

/** A pull from `peer` may start only where the accepted log ends (another path may have moved it). */
export function startPull(core: CoreState, peer: string, author: string, afterSeq: number, upToSeq: number, stepDown: boolean): PullCursor | undefined {
  const expected = core.acceptedOf(author);
  if (expected.seq !== afterSeq || core.closed) return undefined;
  return { peer, author, afterSeq, upToSeq, stepDown, expected };
}

/**
 * A chunk of a pull: verified against the end of the previous chunk (the
 * serving side ends each on a stored signed head, so one signature per
 * chunk), then accepted as a commit; ingest re-checks the accepted tip, so
 * chunks accepted meanwhile by another path are skipped, not doubled.
 */
export function pullChunk(core: CoreState, cursor: PullCursor, chunk: PullEntriesResponse): ChunkOutcome {
  const { author } = cursor;
  if (core.closed) return { next: 'stop' };
  let verified;
  try {
    if (!chunk.head) throw new ChainError('chunk without a head');
    const publicKey = core.signerKey(author, chunk.head);
    verified = verifyRange({ allianceId: core.init.allianceId, publicKey, keyOwner: author, signedHead: chunk.head, tip: cursor.expected, entries: chunk.entries });
  } catch (error) {
    const lower = cursor.stepDown && cursor.expected.seq === cursor.afterSeq ? stepDownTo(error, cursor.afterSeq, cursor.upToSeq) : undefined;
    if (lower !== undefined) return { next: 'restart', upToSeq: lower };
    if (error instanceof ForkError) recordProof(core, makeProof(core.acceptedHead(author), chunk.head!, chunk.entries));
    else pullFailed(core, cursor, error);
    return { next: 'stop' };
  }
  if (verified.entries.length > 0) ingest(core, chunk.head, verified.entries, 'pull');
  cursor.expected = { seq: Number(verified.head.seq), hash: verified.head.entryHash };
  return { next: 'more' };
}

/** The stream ended: whether it brought everything asked for. */
export function pullEnded(core: CoreState, cursor: PullCursor): boolean {
  core.contact(cursor.peer);
  return cursor.expected.seq >= cursor.upToSeq;
}

/** The stream failed: data that broke a rule is the peer's fault and reported; an unreachable peer is not. */
export function pullFailed(core: CoreState, cursor: PullCursor, error: unknown): false {
  if (error instanceof TongxingError) core.reject(cursor.peer, `pull of ${cursor.author.slice(0, 12)}: ${error.message}`);
  return false;
}
