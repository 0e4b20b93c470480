import { Level } from 'level';
import { SignedHead } from '../../gen/tongxing/log/v1/log.js';
import { AssertionError, TongxingError, assert } from '../../federation/errors.js';
import { assertEntriesRange, planCommit, type AuthorId, type CommitBatch, type StoredEntry, type Store } from '../../federation/store/store.js';

// Key layout (utf8 keys, byte values). Seqs are 16 hex digits so that key order is seq order.
//   meta/schema                    "1" (schemaVersion)
//   log/<author>/<seq>             encoded LogEntry
//   head/<author>/<seq>            encoded SignedHead, one per stored batch boundary
//   s/<key>                        derived state (views, proofs, meta of the core): its own
//                                  prefix, so no state key can collide with the above
const schemaKey = 'meta/schema';
const schemaVersion = 1;
const stateKeyPrefix = 's/';

/** The directory holds no Tongxing store of the version this build reads: do not touch it. */
export class StoreSchemaError extends TongxingError {
  override name = 'StoreSchemaError';
  constructor(
    readonly directory: string,
    /** The version found under meta/schema; undefined for a non-empty database without one. */
    readonly versionFound: string | undefined,
  ) {
    super(
      versionFound === undefined
        ? `${directory}: a LevelDB database without ${schemaKey}, not a Tongxing store`
        : `${directory}: store schema version ${JSON.stringify(versionFound)}, this build reads version ${schemaVersion}`,
    );
  }
}

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
   * Opens (creating if missing) the store in `directory`. Rejects with
   * StoreSchemaError for a database of another schema version or not ours, and
   * StoreCorruptError when a log does not end on its latest head.
   */
  static async open(directory: string, init: LevelStoreInit = {}): Promise<LevelStore> {
    const db = new Level<string, Uint8Array>(directory, { keyEncoding: 'utf8', valueEncoding: 'view' });
    await db.open();
    try {
      await checkSchema(db, directory);
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

async function checkSchema(db: Level<string, Uint8Array>, directory: string): Promise<void> {
  const stored = await db.get(schemaKey);
  if (stored === undefined) {
    const anyKey = await db.keys({ limit: 1 }).all();
    if (anyKey.length > 0) throw new StoreSchemaError(directory, undefined);
    await db.put(schemaKey, new TextEncoder().encode(String(schemaVersion)), { sync: true });
    return;
  }
  const version = new TextDecoder().decode(stored);
  if (version !== String(schemaVersion)) throw new StoreSchemaError(directory, version);
}

/** One reverse seek per author: the last head key below the previous author's range. */
async function loadLatestHeads(db: Level<string, Uint8Array>, directory: string): Promise<Map<AuthorId, LatestHead>> {
  const latest = new Map<AuthorId, LatestHead>();
  let below = prefixEnd('head/')!;
  for (;;) {
    const found = await db.iterator({ gte: 'head/', lt: below, reverse: true, limit: 1 }).all();
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
    const [last, next] = await db.getMany([`log/${author}/${seqKey(seq)}`, `log/${author}/${seqKey(seq + 1)}`]);
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
