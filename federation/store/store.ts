import type { SignedHead } from '../../gen/tongxing/log/v1/log.js';
import { AssertionError, assert } from '../errors.js';

/** Hex node id of a log's author (SM3 of its public key), lowercase: `head.author` as hex. */
export type AuthorId = string;

/** One encoded LogEntry as it travels and is hashed. */
export interface StoredEntry {
  readonly author: AuthorId;
  readonly seq: number;
  readonly bytes: Uint8Array;
}

/**
 * A put (value) or a delete (value undefined) of a derived-state key: views, proofs, meta.
 * Keys are well-formed strings (no lone surrogates) and sort bytewise as UTF-8.
 */
export interface StateChange {
  readonly key: string;
  readonly value: Uint8Array | undefined;
}

/**
 * Everything one ingest or one local write changes, applied all-or-nothing.
 *
 * Contract, checked by every implementation (with planCommit) before anything is
 * written; a violation throws AssertionError (a bug in the caller, not bad input)
 * and writes nothing:
 * - per author, `entries` are in ascending seq and continue the stored log
 *   (first seq = stored latest head seq + 1, no gaps, no repeats); authors may
 *   interleave;
 * - a head at or below its author's stored latest seq is ignored: it adds
 *   nothing and is not compared with what is stored (the caller detects
 *   equivocation before committing);
 * - every other head is covered by the batch: its seq is at most the author's
 *   last entry in the batch, so a new head without new entries is rejected; an
 *   author with entries has a head at its last entry (a stored log always ends
 *   on a signed head); one author may have several heads, at most one per seq,
 *   and all are kept (batch boundaries, see Store.headAtOrAfter);
 * - state changes apply in order, so the last change of a key wins.
 * Ownership: the store keeps copies. The caller must not mutate the batch until
 * commit settles; afterwards it may reuse the buffers.
 */
export interface CommitBatch {
  readonly entries: readonly StoredEntry[];
  readonly heads: readonly SignedHead[];
  readonly state: readonly StateChange[];
  /**
   * false: the batch may be lost in an OS crash (never half-applied) and
   * resolves without waiting for the disk. For other members' entries, which
   * are pulled again after a loss; a node's own log is always written durably,
   * since a lost announced head would make it sign a different one.
   * Default true; a store opened without sync ignores it.
   */
  readonly durable?: boolean;
}

/**
 * Durable storage of verified logs and the state derived from them.
 * Implementations: MemoryStore (federation/store/memory.ts, for tests and the
 * simulator) and LevelStore (node/store/level.ts). Both pass storeCompliance.
 *
 * Commits take effect in call order: each is checked against the store as left
 * by the commits called before it (callers need not await one before the next).
 * Every returned byte array and head is a fresh copy that the caller owns.
 * After close() every method rejects with AssertionError.
 */
export interface Store {
  /** Atomic and durable once the promise resolves; on rejection nothing was written. */
  commit(batch: CommitBatch): Promise<void>;
  /** The highest stored head of every author, in ascending author order. */
  latestHeads(): Promise<SignedHead[]>;
  latestHead(author: AuthorId): Promise<SignedHead | undefined>;
  /** The first stored head of `author` with seq >= `seq` (every verified batch boundary is kept). */
  headAtOrAfter(author: AuthorId, seq: number): Promise<SignedHead | undefined>;
  /** The last stored head of `author` with seq <= `seq`. */
  headAtOrBefore(author: AuthorId, seq: number): Promise<SignedHead | undefined>;
  /**
   * Entries fromSeq..toSeq inclusive, ascending, at most `limit`; stops early at the end of the log.
   * fromSeq >= 1 and limit >= 0 (integers), else AssertionError.
   */
  entries(author: AuthorId, fromSeq: number, toSeq: number, limit: number): Promise<StoredEntry[]>;
  getState(key: string): Promise<Uint8Array | undefined>;
  /** Several state values in one read (LevelDB getMany), in the order of `keys`. */
  getStates(keys: readonly string[]): Promise<Array<Uint8Array | undefined>>;
  /** State entries whose key starts with `prefix`, in key order (bytewise UTF-8), at most `limit`. */
  stateRange(prefix: string, limit: number): Promise<Array<[string, Uint8Array]>>;
  close(): Promise<void>;
}

/** What one commit adds to one author's log, once the contract checks passed. */
export interface AuthorCommit {
  readonly author: AuthorId;
  /** The author's stored latest seq before the commit (0 for an author new to the store). */
  readonly seqBefore: number;
  /** Seqs seqBefore+1 .. seqBefore+entries.length, ascending. */
  readonly entries: readonly StoredEntry[];
  /** New heads in ascending seq; the last one is the author's new latest head. */
  readonly heads: readonly SignedHead[];
  /** heads[i].head.seq as a number. */
  readonly headSeqs: readonly number[];
}

export interface CommitPlan {
  /** Authors whose log grows, in order of first appearance in the batch. */
  readonly authors: readonly AuthorCommit[];
  readonly state: readonly StateChange[];
}

/** Lowercase hex, as AuthorId and key layouts need it (no separators). */
const authorIdPattern = /^[0-9a-f]+$/;
/** A lone surrogate: such a key has no UTF-8 encoding and would collide once encoded. */
const loneSurrogatePattern = /\p{Cs}/u;
const maxSeq = BigInt(Number.MAX_SAFE_INTEGER);

/** The AuthorId of a head's author. */
export function headAuthor(head: SignedHead): AuthorId {
  assert(head.head !== undefined, 'signed head without head');
  const author = head.head.author;
  return Buffer.from(author.buffer, author.byteOffset, author.byteLength).toString('hex');
}

interface MutableAuthorCommit {
  author: AuthorId;
  seqBefore: number;
  entries: StoredEntry[];
  heads: SignedHead[];
  headSeqs: number[];
}

/**
 * Checks `batch` against the CommitBatch contract and groups it per author.
 * Pure: `storedSeq(author)` reports the author's stored latest seq (0 if none).
 * Throws AssertionError on any violation; the messages give the numbers.
 */
export function planCommit(batch: CommitBatch, storedSeq: (author: AuthorId) => number): CommitPlan {
  const byAuthor = new Map<AuthorId, MutableAuthorCommit>();
  const open = (author: AuthorId, seqBefore: number): MutableAuthorCommit => {
    const commit = { author, seqBefore, entries: [], heads: [], headSeqs: [] };
    byAuthor.set(author, commit);
    return commit;
  };

  // The hot loop (up to batchEntriesMax entries): one comparison per check, no message building.
  let current: MutableAuthorCommit | undefined;
  let nextSeq = 0;
  for (const entry of batch.entries) {
    if (current === undefined || entry.author !== current.author) {
      const known = byAuthor.get(entry.author);
      if (known !== undefined) {
        current = known;
      } else {
        if (typeof entry.author !== 'string' || !authorIdPattern.test(entry.author)) {
          throw new AssertionError(`entry author ${JSON.stringify(entry.author)} is not a lowercase hex node id`);
        }
        current = open(entry.author, storedSeq(entry.author));
      }
      nextSeq = current.seqBefore + current.entries.length + 1;
    }
    if (entry.seq !== nextSeq) {
      const how = entry.seq > nextSeq ? 'leaves a gap' : 'repeats or goes back';
      throw new AssertionError(
        `author ${entry.author}: entry seq ${entry.seq} ${how}; expected seq ${nextSeq} (stored latest ${current.seqBefore})`,
      );
    }
    if (!(entry.bytes instanceof Uint8Array)) {
      throw new AssertionError(`author ${entry.author}: entry seq ${entry.seq} has no bytes`);
    }
    current.entries.push(entry);
    nextSeq++;
  }

  for (const signed of batch.heads) {
    const author = headAuthor(signed);
    const seqBig = signed.head!.seq;
    if (author.length === 0) throw new AssertionError('head without author');
    if (typeof seqBig !== 'bigint' || seqBig < 1n || seqBig > maxSeq) {
      throw new AssertionError(`author ${author}: head seq ${String(seqBig)} is not in 1..2^53-1`);
    }
    const seq = Number(seqBig);
    const known = byAuthor.get(author);
    const seqBefore = known?.seqBefore ?? storedSeq(author);
    if (seq <= seqBefore) continue; // about the stored prefix: adds nothing
    const commit = known ?? open(author, seqBefore);
    commit.heads.push(signed);
    commit.headSeqs.push(seq);
  }

  const authors: AuthorCommit[] = [];
  for (const commit of byAuthor.values()) {
    const lastSeq = commit.seqBefore + commit.entries.length;
    if (commit.heads.length > 1) sortHeads(commit);
    const seqs = commit.headSeqs;
    for (let i = 1; i < seqs.length; i++) {
      assert(seqs[i] !== seqs[i - 1], `author ${commit.author}: two heads with seq ${seqs[i]} in one batch`);
    }
    const highest = seqs.length === 0 ? undefined : seqs[seqs.length - 1]!;
    if (commit.entries.length > 0) {
      assert(
        highest === lastSeq,
        `author ${commit.author}: entries end at seq ${lastSeq} but the highest head in the batch is ${highest ?? 'missing'}`,
      );
    } else {
      // Only heads with seq > seqBefore got here, so they cover entries the store does not have.
      assert(
        highest === undefined,
        `author ${commit.author}: head seq ${highest} is beyond the stored log (latest ${commit.seqBefore}) and the batch has no entries for it`,
      );
    }
    authors.push(commit);
  }

  for (const change of batch.state) {
    if (typeof change.key !== 'string') throw new AssertionError('state key is not a string');
    if (loneSurrogatePattern.test(change.key)) {
      throw new AssertionError(`state key ${JSON.stringify(change.key)} has a lone surrogate`);
    }
    if (change.value !== undefined && !(change.value instanceof Uint8Array)) {
      throw new AssertionError(`state key ${JSON.stringify(change.key)}: value is neither bytes nor undefined`);
    }
  }
  return { authors, state: batch.state };
}

/** The argument rule of Store.entries, shared so every implementation rejects the same calls. */
export function assertEntriesRange(fromSeq: number, toSeq: number, limit: number): void {
  assert(
    Number.isSafeInteger(fromSeq) && fromSeq >= 1 && Number.isSafeInteger(toSeq) && Number.isSafeInteger(limit) && limit >= 0,
    `entries: fromSeq ${fromSeq} (>= 1), toSeq ${toSeq} and limit ${limit} (>= 0) must be integers`,
  );
}

function sortHeads(commit: MutableAuthorCommit): void {
  const order = commit.headSeqs.map((_, i) => i).sort((a, b) => commit.headSeqs[a]! - commit.headSeqs[b]!);
  commit.heads = order.map((i) => commit.heads[i]!);
  commit.headSeqs = order.map((i) => commit.headSeqs[i]!);
}
