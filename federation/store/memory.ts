import { SignedHead } from '../../gen/tongxing/log/v1/log.js';
import { assert } from '../errors.js';
import { assertEntriesRange, planCommit, type AuthorId, type CommitBatch, type StoredEntry, type Store } from './store.js';

/** One author's log: entries[seq - 1], and every stored head in ascending seq. */
interface AuthorLog {
  readonly entries: Uint8Array[];
  readonly heads: SignedHead[];
  readonly headSeqs: number[];
}

/** What the last commit changed, to take it back (see MemoryStore.reopen). */
interface CommitUndo {
  /** Per author touched: entry and head counts before the commit. */
  readonly logs: Array<{ author: AuthorId; entries: number; heads: number }>;
  /** Per state key touched, in commit order: the value before the change. */
  readonly state: Array<[string, Uint8Array | undefined]>;
}

/** The "disk": survives reopen(); one instance is owned by one open MemoryStore at a time. */
class MemoryData {
  readonly logs = new Map<AuthorId, AuthorLog>();
  /** Authors in ascending order, for latestHeads. */
  readonly authors: AuthorId[] = [];
  readonly state = new Map<string, Uint8Array>();
  /**
   * State keys in UTF-8 byte order, rebuilt lazily for stateRange: may hold
   * deleted keys (filtered on rebuild) and misses the keys in `unsortedKeys`.
   */
  sortedKeys: string[] = [];
  unsortedKeys: string[] = [];
  keysDeleted = false;
  lastCommit: CommitUndo | undefined;
}

export interface MemoryStoreReopenOptions {
  /**
   * Model a crash in which the last successful commit never reached the disk (an
   * unsynced LevelDB write, a lying disk): the reopened store is as it was before
   * that commit. Only the last commit can be lost; reopening clears the record.
   */
  readonly loseLastCommit?: boolean;
}

/**
 * Store in memory, for tests and the deterministic simulator. Pure: no IO,
 * timers or randomness; everything happens synchronously inside each call.
 * Copies the bytes and heads it keeps and returns.
 */
export class MemoryStore implements Store {
  #data: MemoryData;
  #closed = false;

  constructor() {
    this.#data = new MemoryData();
  }

  /**
   * Closes this store and returns a new one over the same data, as a restarted
   * process would find it (optionally without the last commit). Works on a
   * closed store too.
   */
  reopen(options: MemoryStoreReopenOptions = {}): MemoryStore {
    this.#closed = true;
    const data = this.#data;
    if (options.loseLastCommit === true && data.lastCommit !== undefined) undo(data, data.lastCommit);
    data.lastCommit = undefined;
    const next = new MemoryStore();
    next.#data = data;
    this.#data = new MemoryData(); // this instance lets go of the data it no longer owns
    return next;
  }

  async commit(batch: CommitBatch): Promise<void> {
    this.#assertOpen();
    const data = this.#data;
    const plan = planCommit(batch, (author) => data.logs.get(author)?.headSeqs.at(-1) ?? 0);
    // Checked: from here on nothing throws.
    const lastCommit: CommitUndo = { logs: [], state: [] };
    for (const commit of plan.authors) {
      let log = data.logs.get(commit.author);
      if (log === undefined) {
        log = { entries: [], heads: [], headSeqs: [] };
        data.logs.set(commit.author, log);
        data.authors.splice(lowerBound(data.authors, commit.author, compareAscii), 0, commit.author);
      }
      lastCommit.logs.push({ author: commit.author, entries: log.entries.length, heads: log.heads.length });
      for (const entry of commit.entries) log.entries.push(new Uint8Array(entry.bytes));
      for (let i = 0; i < commit.heads.length; i++) {
        log.heads.push(copySignedHead(commit.heads[i]!));
        log.headSeqs.push(commit.headSeqs[i]!);
      }
    }
    for (const change of plan.state) {
      lastCommit.state.push([change.key, data.state.get(change.key)]);
      setState(data, change.key, change.value === undefined ? undefined : new Uint8Array(change.value));
    }
    data.lastCommit = lastCommit;
  }

  async latestHeads(): Promise<SignedHead[]> {
    this.#assertOpen();
    const data = this.#data;
    return data.authors.map((author) => copySignedHead(data.logs.get(author)!.heads.at(-1)!));
  }

  async latestHead(author: AuthorId): Promise<SignedHead | undefined> {
    this.#assertOpen();
    const head = this.#data.logs.get(author)?.heads.at(-1);
    return head === undefined ? undefined : copySignedHead(head);
  }

  async headAtOrAfter(author: AuthorId, seq: number): Promise<SignedHead | undefined> {
    this.#assertOpen();
    assert(Number.isSafeInteger(seq), `headAtOrAfter: seq ${seq} is not an integer`);
    const log = this.#data.logs.get(author);
    if (log === undefined) return undefined;
    const head = log.heads[lowerBound(log.headSeqs, seq, (a, b) => a - b)];
    return head === undefined ? undefined : copySignedHead(head);
  }

  async headAtOrBefore(author: AuthorId, seq: number): Promise<SignedHead | undefined> {
    this.#assertOpen();
    assert(Number.isSafeInteger(seq), `headAtOrBefore: seq ${seq} is not an integer`);
    const log = this.#data.logs.get(author);
    if (log === undefined) return undefined;
    const head = log.heads[lowerBound(log.headSeqs, seq + 1, (a, b) => a - b) - 1];
    return head === undefined ? undefined : copySignedHead(head);
  }

  async entries(author: AuthorId, fromSeq: number, toSeq: number, limit: number): Promise<StoredEntry[]> {
    this.#assertOpen();
    assertEntriesRange(fromSeq, toSeq, limit);
    const log = this.#data.logs.get(author);
    if (log === undefined) return [];
    const lastSeq = Math.min(toSeq, log.entries.length, fromSeq + limit - 1);
    const result: StoredEntry[] = [];
    for (let seq = fromSeq; seq <= lastSeq; seq++) {
      result.push({ author, seq, bytes: new Uint8Array(log.entries[seq - 1]!) });
    }
    return result;
  }

  async getState(key: string): Promise<Uint8Array | undefined> {
    this.#assertOpen();
    const value = this.#data.state.get(key);
    return value === undefined ? undefined : new Uint8Array(value);
  }

  async getStates(keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    this.#assertOpen();
    const state = this.#data.state;
    return keys.map((key) => {
      const value = state.get(key);
      return value === undefined ? undefined : new Uint8Array(value);
    });
  }

  async stateRange(prefix: string, limit: number): Promise<Array<[string, Uint8Array]>> {
    this.#assertOpen();
    assert(Number.isSafeInteger(limit) && limit >= 0, `stateRange: limit ${limit} is not an integer >= 0`);
    const data = this.#data;
    const keys = sortedKeys(data);
    const result: Array<[string, Uint8Array]> = [];
    for (let i = lowerBound(keys, prefix, compareKeys); i < keys.length && result.length < limit; i++) {
      const key = keys[i]!;
      if (!key.startsWith(prefix)) break;
      result.push([key, new Uint8Array(data.state.get(key)!)]);
    }
    return result;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #assertOpen(): void {
    assert(!this.#closed, 'store is closed');
  }
}

/** A deep copy: ts-proto messages hold Buffers that the caller may mutate. */
function copySignedHead(signed: SignedHead): SignedHead {
  return { head: signed.head === undefined ? undefined : copyBytesFields(signed.head), signature: Buffer.from(signed.signature) };
}

/** Copies every bytes field, so a field added to Head later is copied too. */
function copyBytesFields<T extends object>(message: T): T {
  const copy = { ...message } as Record<string, unknown>;
  for (const [name, value] of Object.entries(copy)) {
    if (value instanceof Uint8Array) copy[name] = Buffer.from(value);
  }
  return copy as unknown as T;
}

function setState(data: MemoryData, key: string, value: Uint8Array | undefined): void {
  if (value === undefined) {
    if (data.state.delete(key)) data.keysDeleted = true;
  } else {
    if (!data.state.has(key)) data.unsortedKeys.push(key);
    data.state.set(key, value);
  }
}

function undo(data: MemoryData, commit: CommitUndo): void {
  for (let i = commit.state.length - 1; i >= 0; i--) {
    const [key, value] = commit.state[i]!;
    setState(data, key, value);
  }
  for (const { author, entries, heads } of commit.logs) {
    const log = data.logs.get(author)!;
    if (heads === 0) {
      data.logs.delete(author);
      data.authors.splice(data.authors.indexOf(author), 1);
    } else {
      log.entries.length = entries;
      log.heads.length = heads;
      log.headSeqs.length = heads;
    }
  }
}

/**
 * The state keys in order. Cost: O(n + k log k) after k inserts, O(1) when
 * nothing changed, so gets and commits never pay for ordering.
 */
function sortedKeys(data: MemoryData): string[] {
  if (data.unsortedKeys.length === 0 && !data.keysDeleted) return data.sortedKeys;
  const live = data.keysDeleted ? data.sortedKeys.filter((key) => data.state.has(key)) : data.sortedKeys;
  const added = data.unsortedKeys.filter((key) => data.state.has(key)).sort(compareKeys);
  // Merge, dropping repeats: a key deleted and put again since the last rebuild is in both.
  const merged: string[] = [];
  let i = 0;
  let j = 0;
  while (i < live.length || j < added.length) {
    const order = i === live.length ? 1 : j === added.length ? -1 : compareKeys(live[i]!, added[j]!);
    const key = order <= 0 ? live[i++]! : added[j++]!;
    if (order === 0) j++;
    if (merged.length === 0 || merged[merged.length - 1] !== key) merged.push(key);
  }
  data.sortedKeys = merged;
  data.unsortedKeys = [];
  data.keysDeleted = false;
  return merged;
}

/**
 * Orders strings as their UTF-8 bytes (code point order), as LevelDB does. Plain
 * `<` compares UTF-16 units, which puts U+10000.. (surrogates) below U+E000..U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

function compareAscii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The first index whose item is >= `target`. */
function lowerBound<T>(items: readonly T[], target: T, compare: (a: T, b: T) => number): number {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compare(items[middle]!, target) < 0) low = middle + 1;
    else high = middle;
  }
  return low;
}
