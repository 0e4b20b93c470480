import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { SignedHead } from '../../gen/tongxing/log/v1/log.js';
import { AssertionError, TongxingError, assert } from '../../federation/errors.js';
import { assertEntriesRange, planCommit, type AuthorId, type CommitBatch, type StoredEntry, type Store } from '../../federation/store/store.js';
import { openSchema, type Migration } from './migrate.js';

// Key layout (utf8 keys, byte values). Seqs are 16 hex digits so that key order is seq order.
//   meta/schema                    "1" (storeSchemaVersion; older stores are migrated, see migrate.ts)
//   log/<author>/<seq>             encoded LogEntry
//   head/<author>/<seq>            encoded SignedHead, one per stored batch boundary
//   s/<key>                        derived state (views, proofs, meta of the core): its own
//                                  prefix, so no state key can collide with the above
const stateKeyPrefix = 's/';

/** A LevelDB snapshot (abstract-level's, through level's own types). */
type AbstractSnapshot = ReturnType<Level<string, Uint8Array>['snapshot']>;

export { StoreSchemaError } from './migrate.js';

/** The store's keys contradict each other (e.g. a log that does not end on its latest head). */
export class StoreCorruptError extends TongxingError {
  override name = 'StoreCorruptError';
}

export interface LevelStoreInit {
  /**
   * fsync every commit before it resolves (default true). Without it a commit
   * survives a process crash but not an OS crash or power loss, and a node
   * that loses heads it has already announced would equivocate on restart.
   */
  readonly sync?: boolean;
  /** Called before each schema migration step runs on an older store (to log it). */
  readonly onMigrate?: (step: Migration) => void;
}

interface LatestHead {
  readonly seq: number;
  readonly bytes: Uint8Array;
}

/** Store on LevelDB (level 10 / classic-level): one database per node, one batch per commit. */
export class LevelStore implements Store {
  readonly #db: Level<string, Uint8Array>;
  readonly #sync: boolean;
  /** Each author's latest head, as on disk: loaded on open, updated after a batch resolves. */
  readonly #latest: Map<AuthorId, LatestHead>;
  /** Authors in ascending order, for latestHeads. */
  readonly #authors: AuthorId[];
  /** The last commit called: the next one is checked only after it settles. */
  #commitTail: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(
    readonly directory: string,
    db: Level<string, Uint8Array>,
    latest: Map<AuthorId, LatestHead>,
    sync: boolean,
  ) {
    this.#db = db;
    this.#latest = latest;
    this.#authors = [...latest.keys()].sort();
    this.#sync = sync;
  }

  /**
   * Opens (creating if missing) the store in `directory`, migrating an older
   * schema first. Rejects with StoreSchemaError for a database of a newer
   * schema version or not ours, and StoreCorruptError when a log does not end
   * on its latest head.
   */
  static async open(directory: string, init: LevelStoreInit = {}): Promise<LevelStore> {
    const db = new Level<string, Uint8Array>(directory, { keyEncoding: 'utf8', valueEncoding: 'view' });
    await db.open();
    try {
      await openSchema(db, directory, { onMigrate: init.onMigrate });
      const latest = await loadLatestHeads(db, directory);
      return new LevelStore(directory, db, latest, init.sync ?? true);
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  commit(batch: CommitBatch): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    const result = this.#commitTail.then(() => this.#commitNow(batch));
    this.#commitTail = result.catch(() => undefined);
    return result;
  }

  async #commitNow(batch: CommitBatch): Promise<void> {
    const plan = planCommit(batch, (author) => this.#latest.get(author)?.seq ?? 0);
    // A chained batch, not db.batch(array, options): level 10 clones every array
    // operation with the options spread in, which measured ~4x the CPU per entry.
    // put() copies key and value into the native batch, so nothing is retained.
    const write = this.#db.batch();
    const latest: Array<[AuthorId, LatestHead]> = [];
    try {
      for (const commit of plan.authors) {
        const logPrefix = `log/${commit.author}/`;
        let seq = commit.seqBefore;
        for (const entry of commit.entries) write.put(logPrefix + seqKey(++seq), entry.bytes);
        const headPrefix = `head/${commit.author}/`;
        let bytes: Uint8Array | undefined;
        for (let i = 0; i < commit.heads.length; i++) {
          bytes = SignedHead.encode(commit.heads[i]!).finish();
          write.put(headPrefix + seqKey(commit.headSeqs[i]!), bytes);
        }
        latest.push([commit.author, { seq: commit.headSeqs.at(-1)!, bytes: bytes! }]);
      }
      for (const change of plan.state) {
        const key = stateKeyPrefix + change.key;
        if (change.value === undefined) write.del(key);
        else write.put(key, change.value);
      }
    } catch (error) {
      await write.close();
      throw error;
    }
    if (write.length === 0) return write.close(); // only ignored heads
    await write.write({ sync: this.#sync && batch.durable !== false });
    for (const [author, head] of latest) {
      if (!this.#latest.has(author)) this.#authors.splice(sortedIndex(this.#authors, author), 0, author);
      this.#latest.set(author, head);
    }
  }

  async latestHeads(): Promise<SignedHead[]> {
    this.#assertOpen();
    return this.#authors.map((author) => SignedHead.decode(this.#latest.get(author)!.bytes));
  }

  async latestHead(author: AuthorId): Promise<SignedHead | undefined> {
    this.#assertOpen();
    const latest = this.#latest.get(author);
    return latest === undefined ? undefined : SignedHead.decode(latest.bytes);
  }

  async headAtOrAfter(author: AuthorId, seq: number): Promise<SignedHead | undefined> {
    this.#assertOpen();
    assert(Number.isSafeInteger(seq), `headAtOrAfter: seq ${seq} is not an integer`);
    const latest = this.#latest.get(author);
    if (latest === undefined || seq > latest.seq) return undefined;
    if (seq === latest.seq) return SignedHead.decode(latest.bytes);
    const prefix = `head/${author}/`;
    const values = await this.#db
      .values({ gte: prefix + seqKey(Math.max(seq, 1)), lte: prefix + seqKey(latest.seq), limit: 1 })
      .all();
    assert(values.length === 1, `author ${author}: no head between seq ${seq} and the latest head ${latest.seq}`);
    return SignedHead.decode(values[0]!);
  }

  async headAtOrBefore(author: AuthorId, seq: number): Promise<SignedHead | undefined> {
    this.#assertOpen();
    assert(Number.isSafeInteger(seq), `headAtOrBefore: seq ${seq} is not an integer`);
    const latest = this.#latest.get(author);
    if (latest === undefined || seq < 1) return undefined;
    if (seq >= latest.seq) return SignedHead.decode(latest.bytes);
    const prefix = `head/${author}/`;
    const values = await this.#db.values({ gte: prefix, lte: prefix + seqKey(seq), reverse: true, limit: 1 }).all();
    return values.length === 0 ? undefined : SignedHead.decode(values[0]!);
  }

  async entries(author: AuthorId, fromSeq: number, toSeq: number, limit: number): Promise<StoredEntry[]> {
    this.#assertOpen();
    assertEntriesRange(fromSeq, toSeq, limit);
    const latest = this.#latest.get(author);
    if (latest === undefined) return [];
    const lastSeq = Math.min(toSeq, latest.seq, fromSeq + limit - 1);
    if (lastSeq < fromSeq) return [];
    const prefix = `log/${author}/`;
    const values = await this.#db.values({ gte: prefix + seqKey(fromSeq), lte: prefix + seqKey(lastSeq) }).all();
    // A stored log has every seq up to its latest head: the count proves it was read whole.
    assert(
      values.length === lastSeq - fromSeq + 1,
      `author ${author}: read ${values.length} entries for seqs ${fromSeq}..${lastSeq}`,
    );
    return values.map((bytes, i) => ({ author, seq: fromSeq + i, bytes }));
  }

  async getState(key: string): Promise<Uint8Array | undefined> {
    this.#assertOpen();
    return this.#db.get(stateKeyPrefix + key);
  }

  async getStates(keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    this.#assertOpen();
    if (keys.length === 0) return [];
    return this.#db.getMany(keys.map((key) => stateKeyPrefix + key));
  }

  async stateRange(prefix: string, limit: number): Promise<Array<[string, Uint8Array]>> {
    this.#assertOpen();
    assert(Number.isSafeInteger(limit) && limit >= 0, `stateRange: limit ${limit} is not an integer >= 0`);
    if (limit === 0) return [];
    const low = stateKeyPrefix + prefix;
    const found = await this.#db.iterator({ gte: low, lt: prefixEnd(low), limit }).all();
    return found.map(([key, value]) => [key.slice(stateKeyPrefix.length), value]);
  }

  /**
   * A consistent, read-only view of the store as it is now (a LevelDB
   * snapshot): commits that land later are not seen through it. Reading it
   * does not block commits. Close it when done; closing the store closes it.
   */
  snapshot(): LevelSnapshot {
    this.#assertOpen();
    return new LevelSnapshot(this.directory, this.#db, this.#db.snapshot());
  }

  /** Bytes of the store's files on disk (LevelDB tables, logs, manifest). */
  async diskBytes(): Promise<number> {
    let total = 0;
    for (const name of await readdir(this.directory)) {
      // A table can be compacted away between readdir and stat.
      const info = await stat(join(this.directory, name)).catch(() => undefined);
      if (info?.isFile()) total += info.size;
    }
    return total;
  }

  /** Waits for the commits already called, then closes the database. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#commitTail;
    await this.#db.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError();
  }
}

function closedError(): AssertionError {
  return new AssertionError('store is closed');
}

/** Fixed width, so that LevelDB's byte order is seq order (2^53 fits in 14 digits). */
function seqKey(seq: number): string {
  return seq.toString(16).padStart(16, '0');
}

/**
 * The least string above every string that starts with `prefix`, in UTF-8 byte
 * order: the last code point incremented (dropped when it is U+10FFFF), skipping
 * the surrogate range that UTF-8 cannot encode.
 */
export function prefixEnd(prefix: string): string | undefined {
  const codePoints = Array.from(prefix, (char) => char.codePointAt(0)!);
  while (codePoints.length > 0) {
    const last = codePoints.pop()!;
    if (last < 0x10ffff) {
      codePoints.push(last + 1 === 0xd800 ? 0xe000 : last + 1);
      return String.fromCodePoint(...codePoints);
    }
  }
  return undefined;
}

/** One item of an author's stored log, in seq order: each entry, and after the entry a head was stored at, that head. */
export type StoredLogItem = { readonly kind: 'entry'; readonly seq: number; readonly bytes: Uint8Array } | { readonly kind: 'head'; readonly seq: number; readonly bytes: Uint8Array };

/** See LevelStore.snapshot. Reads throw StoreCorruptError when the snapshot's keys contradict each other. */
export class LevelSnapshot {
  readonly #db: Level<string, Uint8Array>;
  readonly #snapshot: AbstractSnapshot;

  constructor(
    readonly directory: string,
    db: Level<string, Uint8Array>,
    snapshot: AbstractSnapshot,
  ) {
    this.#db = db;
    this.#snapshot = snapshot;
  }

  /** Every author with a stored log and the seq of its latest head (= its entry count), ascending author. */
  async logs(): Promise<Array<{ author: AuthorId; seq: number }>> {
    const latest = await loadLatestHeads(this.#db, this.directory, this.#snapshot);
    return [...latest].map(([author, head]) => ({ author, seq: head.seq })).sort((a, b) => (a.author < b.author ? -1 : 1));
  }

  /**
   * `author`'s log from seq 1 to `upToSeq` (a stored head's seq): entries and
   * stored heads interleaved in seq order, a head right after its entry.
   * Reads ahead a little; memory does not grow with the log.
   */
  async *log(author: AuthorId, upToSeq: number): AsyncGenerator<StoredLogItem> {
    const options = { snapshot: this.#snapshot };
    const heads = this.#db.iterator({ gte: `head/${author}/`, lte: `head/${author}/${seqKey(upToSeq)}`, ...options });
    const entries = this.#db.iterator({ gte: `log/${author}/`, lte: `log/${author}/${seqKey(upToSeq)}`, ...options });
    try {
      let seq = 0;
      for await (const [key, bytes] of heads) {
        const headSeq = Number.parseInt(key.slice(-16), 16);
        if (!(headSeq > seq)) throw new StoreCorruptError(`${this.directory}: head key ${key} out of order`);
        while (seq < headSeq) {
          const next = await entries.next();
          if (next === undefined || next[0] !== `log/${author}/${seqKey(seq + 1)}`) {
            throw new StoreCorruptError(`${this.directory}: the log of ${author} has no entry ${seq + 1} below its head ${headSeq}`);
          }
          seq++;
          yield { kind: 'entry', seq, bytes: next[1] };
        }
        yield { kind: 'head', seq, bytes };
      }
      if (seq !== upToSeq) throw new StoreCorruptError(`${this.directory}: the log of ${author} ends at ${seq}, not on its latest head ${upToSeq}`);
    } finally {
      await Promise.all([heads.close(), entries.close()]);
    }
  }

  /** Derived-state entries under `prefix` (e.g. "proof/"), at most `limit`. */
  async stateRange(prefix: string, limit: number): Promise<Array<[string, Uint8Array]>> {
    const low = stateKeyPrefix + prefix;
    const found = await this.#db.iterator({ gte: low, lt: prefixEnd(low), limit, snapshot: this.#snapshot }).all();
    return found.map(([key, value]) => [key.slice(stateKeyPrefix.length), value]);
  }

  /** Keys and values of derived state under `prefix`, ascending, without a bound (read as they are consumed). */
  async *state(prefix: string): AsyncGenerator<[string, Uint8Array]> {
    const low = stateKeyPrefix + prefix;
    const iterator = this.#db.iterator({ gte: low, lt: prefixEnd(low), snapshot: this.#snapshot });
    try {
      for await (const [key, value] of iterator) yield [key.slice(stateKeyPrefix.length), value];
    } finally {
      await iterator.close();
    }
  }

  /** How many derived-state keys are under `prefix` (a keys-only scan). */
  async stateCount(prefix: string): Promise<number> {
    const low = stateKeyPrefix + prefix;
    let count = 0;
    for await (const _ of this.#db.keys({ gte: low, lt: prefixEnd(low), snapshot: this.#snapshot })) count++; // eslint-disable-line @typescript-eslint/no-unused-vars
    return count;
  }

  close(): Promise<void> {
    return this.#snapshot.close();
  }
}

/** One reverse seek per author: the last head key below the previous author's range. */
async function loadLatestHeads(db: Level<string, Uint8Array>, directory: string, snapshot?: AbstractSnapshot): Promise<Map<AuthorId, LatestHead>> {
  const latest = new Map<AuthorId, LatestHead>();
  let below = prefixEnd('head/')!;
  for (;;) {
    const found = await db.iterator({ gte: 'head/', lt: below, reverse: true, limit: 1, snapshot }).all();
    if (found.length === 0) return latest;
    const [key, bytes] = found[0]!;
    const author = key.slice('head/'.length, key.length - 17);
    const seq = Number.parseInt(key.slice(-16), 16);
    const head = SignedHead.decode(bytes);
    if (
      key.at(-17) !== '/' ||
      !Number.isSafeInteger(seq) ||
      head.head === undefined ||
      head.head.seq !== BigInt(seq) ||
      head.head.author.toString('hex') !== author
    ) {
      throw new StoreCorruptError(`${directory}: head key ${key} does not match its head`);
    }
    const [last, next] = await db.getMany([`log/${author}/${seqKey(seq)}`, `log/${author}/${seqKey(seq + 1)}`], { snapshot });
    if (last === undefined || next !== undefined) {
      throw new StoreCorruptError(`${directory}: the log of ${author} does not end on its latest head ${seq}`);
    }
    latest.set(author, { seq, bytes });
    below = `head/${author}/`;
  }
}

function sortedIndex(items: readonly string[], item: string): number {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (items[middle]! < item) low = middle + 1;
    else high = middle;
  }
  return low;
}
