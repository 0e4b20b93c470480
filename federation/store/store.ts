import type { SignedHead } from '../../gen/tongxing/log/v1/log.js';

/** Hex node id of a log's author (SM3 of its public key). */
export type AuthorId = string;

/** One encoded LogEntry as it travels and is hashed. */
export interface StoredEntry {
  readonly author: AuthorId;
  readonly seq: number;
  readonly bytes: Uint8Array;
}

/** A put (value) or a delete (value undefined) of a derived-state key: views, proofs, meta. */
export interface StateChange {
  readonly key: string;
  readonly value: Uint8Array | undefined;
}

/**
 * Everything one ingest or one local write changes, applied all-or-nothing.
 *
 * Contract, checked by every implementation before anything is written:
 * - per author, `entries` are in ascending seq and continue the stored log
 *   (first seq = stored latest head seq + 1, no gaps);
 * - an author with entries in the batch has a head in the batch, and its
 *   highest head's seq equals its last entry's seq (a stored log always ends
 *   on a signed head); a head may also come alone when it adds nothing new
 *   (seq equal to a stored one is ignored) .
 * Violations throw AssertionError: they are bugs in the caller, not bad input.
 */
export interface CommitBatch {
  readonly entries: readonly StoredEntry[];
  readonly heads: readonly SignedHead[];
  readonly state: readonly StateChange[];
}

/**
 * Durable storage of verified logs and the state derived from them.
 * Implementations: MemoryStore (federation/store/memory.ts, for tests and the
 * simulator) and LevelStore (node/store/level.ts). Both pass storeCompliance.
 */
export interface Store {
  /** Atomic and durable once the promise resolves; on rejection nothing was written. */
  commit(batch: CommitBatch): Promise<void>;
  /** The highest stored head of every author. */
  latestHeads(): Promise<SignedHead[]>;
  latestHead(author: AuthorId): Promise<SignedHead | undefined>;
  /** The first stored head of `author` with seq >= `seq` (every verified batch boundary is kept). */
  headAtOrAfter(author: AuthorId, seq: number): Promise<SignedHead | undefined>;
  /** Entries fromSeq..toSeq inclusive, ascending, at most `limit`; stops early at the end of the log. */
  entries(author: AuthorId, fromSeq: number, toSeq: number, limit: number): Promise<StoredEntry[]>;
  getState(key: string): Promise<Uint8Array | undefined>;
  /** State entries whose key starts with `prefix`, in key order, at most `limit`. */
  stateRange(prefix: string, limit: number): Promise<Array<[string, Uint8Array]>>;
  close(): Promise<void>;
}
