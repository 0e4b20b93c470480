// The Store contract (store.ts), written once and run against every implementation:
//   storeCompliance('memory', async () => new MemoryStore(), async (s) => (s as MemoryStore).reopen());
//   storeCompliance('level', () => LevelStore.open(tmpDir()), reopenLevel);
// Heads are built directly: the store does not verify signatures or hashes.
import { afterEach, describe, expect, it } from 'vitest';
import { SignedHead } from '../../gen/tongxing/log/v1/log.js';
import { AssertionError } from '../errors.js';
import type { AuthorId, CommitBatch, StateChange, Store, StoredEntry } from './store.js';

const authorA = Buffer.alloc(32, 0xa1);
const authorB = Buffer.alloc(32, 0x0b);
const authorC = Buffer.alloc(32, 0xc3);
const authorD = Buffer.alloc(32, 0x5d);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const idA = hex(authorA);
const idB = hex(authorB);
const idC = hex(authorC);

/** A head of `author` at `seq`; `variant` changes its hash and signature (an equivocating twin). */
export function makeHead(author: Buffer, seq: number, variant = 0): SignedHead {
  return SignedHead.fromPartial({
    head: {
      allianceId: Buffer.alloc(32, 0x77),
      author: Buffer.from(author),
      seq: BigInt(seq),
      entryHash: Buffer.alloc(32, (seq * 7 + variant) & 0xff),
      hlc: (BigInt(seq) << 16n) | BigInt(variant),
    },
    signature: Buffer.from(`sig ${hex(author).slice(0, 4)} ${seq} ${variant}`),
  });
}

export function makeEntry(author: Buffer, seq: number, variant = 0): StoredEntry {
  return { author: hex(author), seq, bytes: Buffer.from(`entry ${hex(author).slice(0, 4)} ${seq} ${variant}`) };
}

/** Entries from..to of `author` and the head at `to`. */
function run(author: Buffer, from: number, to: number): { entries: StoredEntry[]; heads: SignedHead[] } {
  const entries: StoredEntry[] = [];
  for (let seq = from; seq <= to; seq++) entries.push(makeEntry(author, seq));
  return { entries, heads: [makeHead(author, to)] };
}

function batch(parts: Partial<CommitBatch>): CommitBatch {
  return { entries: parts.entries ?? [], heads: parts.heads ?? [], state: parts.state ?? [] };
}

const put = (key: string, value: string): StateChange => ({ key, value: Buffer.from(value) });
const del = (key: string): StateChange => ({ key, value: undefined });
const headHex = (head: SignedHead | undefined): string | undefined =>
  head === undefined ? undefined : hex(SignedHead.encode(head).finish());
const entryText = (entries: StoredEntry[]): string[] => entries.map((e) => `${e.author.slice(0, 4)}#${e.seq}=${hex(e.bytes)}`);
const text = (bytes: Uint8Array | undefined): string | undefined =>
  bytes === undefined ? undefined : Buffer.from(bytes).toString();

/**
 * Everything a store shows about `authors` and its state, through its public
 * reads only, as plain data: equal dumps mean indistinguishable stores.
 */
async function dump(store: Store, authors: readonly AuthorId[]): Promise<unknown> {
  const logs: Record<string, unknown> = {};
  for (const author of authors) {
    const latest = await store.latestHead(author);
    const latestSeq = latest === undefined ? 0 : Number(latest.head!.seq);
    const heads: Array<string | undefined> = [];
    for (let seq = 0; seq <= latestSeq + 1; seq++) heads.push(headHex(await store.headAtOrAfter(author, seq)));
    logs[author] = {
      latest: headHex(latest),
      heads,
      entries: entryText(await store.entries(author, 1, latestSeq + 5, latestSeq + 5)),
    };
  }
  const state = (await store.stateRange('', 1_000_000)).map(([key, value]) => [key, hex(value)]);
  return { latestHeads: (await store.latestHeads()).map(headHex), logs, state };
}

/** A small seeded PRNG (mulberry32): one 32-bit seed replays a whole run. */
function prng(seed: number): { next(): number; int(n: number): number; pick<T>(items: readonly T[]): T; chance(p: number): boolean } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return { next, int, pick: (items) => items[int(items.length)]!, chance: (p) => next() < p };
}

/** TONGXING_SEED replays a run; otherwise a fresh seed, printed so a failure can be replayed. */
function testSeed(): number {
  const fromEnv = process.env['TONGXING_SEED'];
  if (fromEnv !== undefined && fromEnv !== '') return Number(fromEnv) >>> 0;
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0]!;
}

export function storeCompliance(
  name: string,
  open: () => Promise<Store>,
  reopen?: (store: Store) => Promise<Store>,
): void {
  describe(`Store compliance: ${name}`, () => {
    const opened: Store[] = [];
    const fresh = async (): Promise<Store> => {
      const store = await open();
      opened.push(store);
      return store;
    };
    const again = async (store: Store): Promise<Store> => {
      const next = await reopen!(store);
      opened.push(next);
      return next;
    };
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
    });

    it('is empty when new', async () => {
      const store = await fresh();
      expect(await store.latestHeads()).toEqual([]);
      expect(await store.latestHead(idA)).toBeUndefined();
      expect(await store.headAtOrAfter(idA, 1)).toBeUndefined();
      expect(await store.headAtOrBefore(idA, 1)).toBeUndefined();
      expect(await store.entries(idA, 1, 10, 10)).toEqual([]);
      expect(await store.getState('view/x')).toBeUndefined();
      expect(await store.getStates(['view/x', 'y'])).toEqual([undefined, undefined]);
      expect(await store.stateRange('', 10)).toEqual([]);
    });

    it('reads back committed entries, heads and state', async () => {
      const store = await fresh();
      await store.commit(batch({ ...run(authorA, 1, 3), state: [put('view/entity/1', 'one')] }));
      expect(headHex(await store.latestHead(idA))).toBe(headHex(makeHead(authorA, 3)));
      expect((await store.latestHeads()).map(headHex)).toEqual([headHex(makeHead(authorA, 3))]);
      expect(entryText(await store.entries(idA, 1, 3, 10))).toEqual(entryText(run(authorA, 1, 3).entries));
      expect(text(await store.getState('view/entity/1'))).toBe('one');
      expect((await store.getStates(['nope', 'view/entity/1'])).map(text)).toEqual([undefined, 'one']);

      await store.commit(batch({ ...run(authorA, 4, 4), state: [put('view/entity/1', 'uno')] }));
      expect(Number((await store.latestHead(idA))!.head!.seq)).toBe(4);
      expect((await store.entries(idA, 1, 100, 100)).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect(text(await store.getState('view/entity/1'))).toBe('uno');
    });

    it('keeps an empty entry and an empty state value', async () => {
      const store = await fresh();
      await store.commit(
        batch({ entries: [{ author: idA, seq: 1, bytes: new Uint8Array(0) }], heads: [makeHead(authorA, 1)], state: [put('k', '')] }),
      );
      expect((await store.entries(idA, 1, 1, 1))[0]!.bytes.length).toBe(0);
      expect((await store.getState('k'))?.length).toBe(0);
      expect((await store.stateRange('k', 5)).map(([key, value]) => [key, value.length])).toEqual([['k', 0]]);
    });

    it('applies state puts and deletes of one batch in order', async () => {
      const store = await fresh();
      await store.commit(batch({ state: [put('a', '1'), put('b', '1'), put('c', '1')] }));
      await store.commit(
        batch({
          state: [del('a'), put('b', '2'), put('b', '3'), put('c', '2'), del('c'), del('missing'), del('d'), put('d', '4')],
        }),
      );
      expect(await store.getState('a')).toBeUndefined();
      expect(text(await store.getState('b'))).toBe('3');
      expect(await store.getState('c')).toBeUndefined();
      expect(text(await store.getState('d'))).toBe('4');
      expect((await store.stateRange('', 10)).map(([key, value]) => `${key}=${text(value)}`)).toEqual(['b=3', 'd=4']);
    });

    it('ranges over a prefix only, in UTF-8 byte order, up to the limit', async () => {
      const store = await fresh();
      const keys = [
        'view/a', 'view/a/1', 'view/a0', 'view/ab', 'view/a\u00ff', 'view/a\uffff', 'view/a\u{10000}',
        'view/a\u{10ffff}', 'view/a\u{10ffff}x', 'view/b', 'view/', 'view', 'view0', 'vie', 'view/A', 'view/a\u4e2d',
      ];
      await store.commit(batch({ state: keys.map((key) => put(key, key)) }));
      const utf8Order = (list: string[]): string[] => [...list].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      const range = async (prefix: string, limit = 100): Promise<string[]> =>
        (await store.stateRange(prefix, limit)).map(([key, value]) => {
          expect(text(value)).toBe(key);
          return key;
        });
      for (const prefix of ['', 'view', 'view/', 'view/a', 'view/a/', 'view/a\u{10ffff}', 'view/b', 'view/c', 'v', 'w']) {
        expect(await range(prefix), `prefix ${JSON.stringify(prefix)}`).toEqual(utf8Order(keys.filter((k) => k.startsWith(prefix))));
      }
      expect(await range('view/a', 3)).toEqual(['view/a', 'view/a/1', 'view/a0']);
      expect(await range('view/a', 0)).toEqual([]);
      // Deleting and re-adding keys keeps the order (memory keeps a lazily sorted index).
      await store.commit(batch({ state: [del('view/a0'), put('view/a00', 'view/a00'), del('view/b')] }));
      await store.commit(batch({ state: [put('view/a0', 'view/a0')] }));
      expect(await range('view/a0')).toEqual(['view/a0', 'view/a00']);
      expect(await range('view/b')).toEqual([]);
    });

    it('finds batch boundaries with headAtOrAfter and headAtOrBefore', async () => {
      const store = await fresh();
      await store.commit(batch(run(authorA, 1, 3)));
      await store.commit(batch(run(authorA, 4, 5)));
      // Two boundaries in one batch (an ingest that pulled two signed batches at once).
      await store.commit(batch({ entries: run(authorA, 6, 12).entries, heads: [makeHead(authorA, 12), makeHead(authorA, 9)] }));
      const after = async (seq: number): Promise<number | undefined> => {
        const head = await store.headAtOrAfter(idA, seq);
        return head === undefined ? undefined : Number(head.head!.seq);
      };
      const before = async (seq: number): Promise<number | undefined> => {
        const head = await store.headAtOrBefore(idA, seq);
        return head === undefined ? undefined : Number(head.head!.seq);
      };
      const seqs = [-1, 0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 13, 1000];
      expect(await Promise.all(seqs.map(after))).toEqual([3, 3, 3, 3, 3, 5, 5, 9, 9, 9, 12, 12, undefined, undefined]);
      expect(await Promise.all(seqs.map(before))).toEqual([undefined, undefined, undefined, undefined, 3, 3, 5, 5, 5, 9, 9, 12, 12, 12]);
      expect(headHex(await store.headAtOrAfter(idA, 7))).toBe(headHex(makeHead(authorA, 9)));
      expect(await store.headAtOrAfter(idB, 1)).toBeUndefined();
      expect(await store.headAtOrBefore(idB, 100)).toBeUndefined();
    });

    it('lists the latest head of every author in author order', async () => {
      const store = await fresh();
      await store.commit(batch(run(authorC, 1, 2)));
      await store.commit(batch(run(authorA, 1, 1)));
      // Interleaved authors in one batch.
      const b = run(authorB, 1, 3);
      const d = run(authorD, 1, 2);
      await store.commit(batch({ entries: [b.entries[0]!, d.entries[0]!, b.entries[1]!, d.entries[1]!, b.entries[2]!], heads: [...d.heads, ...b.heads] }));
      await store.commit(batch(run(authorA, 2, 4)));
      const expected = [makeHead(authorB, 3), makeHead(authorD, 2), makeHead(authorA, 4), makeHead(authorC, 2)];
      expected.sort((x, y) => (hex(x.head!.author) < hex(y.head!.author) ? -1 : 1));
      expect((await store.latestHeads()).map(headHex)).toEqual(expected.map(headHex));
      expect((await store.entries(hex(authorD), 1, 10, 10)).map((e) => e.seq)).toEqual([1, 2]);
    });

    it('limits entries and stops at the end of the log', async () => {
      const store = await fresh();
      await store.commit(batch(run(authorA, 1, 10)));
      const seqs = async (from: number, to: number, limit: number): Promise<number[]> =>
        (await store.entries(idA, from, to, limit)).map((e) => e.seq);
      expect(await seqs(2, 100, 3)).toEqual([2, 3, 4]);
      expect(await seqs(8, 100, 100)).toEqual([8, 9, 10]);
      expect(await seqs(3, 5, 100)).toEqual([3, 4, 5]);
      expect(await seqs(10, 10, 1)).toEqual([10]);
      expect(await seqs(11, 20, 5)).toEqual([]);
      expect(await seqs(1, 10, 0)).toEqual([]);
      expect(await seqs(5, 4, 10)).toEqual([]);
      expect(await store.entries(idB, 1, 10, 10)).toEqual([]);
      await expect(store.entries(idA, 0, 10, 10)).rejects.toThrow(AssertionError);
      await expect(store.entries(idA, 1, 10, -1)).rejects.toThrow(AssertionError);
      await expect(store.entries(idA, 1.5, 10, 1)).rejects.toThrow(AssertionError);
    });

    describe('rejects a batch that breaks the contract and writes nothing', () => {
      // The stored log of A is 1..3 (head 3); every bad batch also carries valid
      // changes (B's first entries, state puts and deletes) that must not land.
      const valid = (): CommitBatch => batch({ ...run(authorB, 1, 2), state: [put('view/new', 'x'), del('view/old'), put('view/old2', 'y')] });
      const cases: Array<[string, () => Partial<CommitBatch>]> = [
        ['a gap in seq', () => run(authorA, 5, 6)],
        ['entries that repeat the stored log', () => run(authorA, 3, 5)],
        ['a duplicate seq in the batch', () => ({ entries: [makeEntry(authorA, 4), makeEntry(authorA, 4), makeEntry(authorA, 5)], heads: [makeHead(authorA, 5)] })],
        ['entries out of order', () => ({ entries: [makeEntry(authorA, 5), makeEntry(authorA, 4)], heads: [makeHead(authorA, 5)] })],
        ['entries without a head', () => ({ entries: [makeEntry(authorA, 4)] })],
        ['entries whose head is another author', () => ({ entries: [makeEntry(authorA, 4)], heads: [makeHead(authorC, 4)] })],
        ['a highest head below the last entry', () => ({ entries: [makeEntry(authorA, 4), makeEntry(authorA, 5)], heads: [makeHead(authorA, 4)] })],
        ['a head beyond the last entry', () => ({ entries: [makeEntry(authorA, 4)], heads: [makeHead(authorA, 4), makeHead(authorA, 5)] })],
        ['a new head without entries', () => ({ heads: [makeHead(authorA, 4)] })],
        ['a head of a new author without entries', () => ({ heads: [makeHead(authorC, 1)] })],
        ['two heads with one seq', () => ({ entries: [makeEntry(authorA, 4)], heads: [makeHead(authorA, 4), makeHead(authorA, 4, 1)] })],
        ['a signed head without a head', () => ({ heads: [{ head: undefined, signature: Buffer.from('x') }] })],
        ['a head with seq 0', () => ({ heads: [makeHead(authorA, 0)] })],
        ['an entry with seq 0', () => ({ entries: [makeEntry(authorC, 0), makeEntry(authorC, 1)], heads: [makeHead(authorC, 1)] })],
        ['an entry author that is not lowercase hex', () => ({ entries: [{ ...makeEntry(authorC, 1), author: idC.toUpperCase() }], heads: [makeHead(authorC, 1)] })],
        ['a state key with a lone surrogate', () => ({ state: [put('view/\ud800', 'x')] })],
      ];
      for (const [what, bad] of cases) {
        it(what, async () => {
          const store = await fresh();
          await store.commit(batch({ ...run(authorA, 1, 3), state: [put('view/old', 'o')] }));
          const before = await dump(store, [idA, idB, idC]);
          const parts = bad();
          const good = valid();
          const attempt = batch({
            entries: [...good.entries, ...(parts.entries ?? [])],
            heads: [...good.heads, ...(parts.heads ?? [])],
            state: [...good.state, ...(parts.state ?? [])],
          });
          await expect(store.commit(attempt)).rejects.toThrow(AssertionError);
          expect(await dump(store, [idA, idB, idC])).toEqual(before);
          // The store still works, and the valid part alone commits.
          await store.commit(valid());
          expect(Number((await store.latestHead(idB))!.head!.seq)).toBe(2);
        });
      }
    });

    it('ignores a head at or below the stored latest seq, whatever it says', async () => {
      const store = await fresh();
      await store.commit(batch(run(authorA, 1, 3)));
      await store.commit(batch(run(authorA, 4, 6)));
      const before = await dump(store, [idA]);
      await store.commit(batch({ heads: [makeHead(authorA, 6, 1), makeHead(authorA, 3, 1), makeHead(authorA, 2, 1), makeHead(authorA, 2, 2)] }));
      expect(await dump(store, [idA])).toEqual(before);
      // ...also next to new entries of the same author.
      await store.commit(batch({ entries: [makeEntry(authorA, 7)], heads: [makeHead(authorA, 5, 1), makeHead(authorA, 7)] }));
      expect(headHex(await store.headAtOrAfter(idA, 5))).toBe(headHex(makeHead(authorA, 6)));
      expect(headHex(await store.latestHead(idA))).toBe(headHex(makeHead(authorA, 7)));
    });

    it('applies commits in call order without awaiting each', async () => {
      const store = await fresh();
      const first = store.commit(batch({ ...run(authorA, 1, 2), state: [put('k', '1')] }));
      const second = store.commit(batch({ ...run(authorA, 3, 4), state: [put('k', '2')] }));
      const conflicting = store.commit(batch(run(authorA, 3, 3)));
      await first;
      await second;
      await expect(conflicting).rejects.toThrow(AssertionError);
      expect((await store.entries(idA, 1, 10, 10)).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect(text(await store.getState('k'))).toBe('2');
    });

    it('keeps copies of the bytes it is given and returns copies', async () => {
      const store = await fresh();
      const { entries, heads } = run(authorA, 1, 2);
      const value = Buffer.from('state');
      await store.commit(batch({ entries, heads, state: [{ key: 'k', value }] }));
      const before = await dump(store, [idA]);
      // Mutate everything that was handed in.
      for (const entry of entries) (entry.bytes as Buffer).fill(0);
      for (const head of heads) {
        head.head!.entryHash.fill(0);
        head.head!.author.fill(0);
        head.head!.allianceId.fill(0);
        head.signature.fill(0);
        head.head!.seq = 99n;
      }
      value.fill(0);
      expect(await dump(store, [idA])).toEqual(before);
      // Mutate everything that was handed out.
      for (const entry of await store.entries(idA, 1, 2, 2)) entry.bytes.fill(1);
      for (const head of [
        ...(await store.latestHeads()),
        (await store.latestHead(idA))!,
        (await store.headAtOrAfter(idA, 1))!,
        (await store.headAtOrBefore(idA, 2))!,
      ]) {
        head.head!.entryHash.fill(1);
        head.head!.author.fill(1);
        head.signature.fill(1);
        head.head!.seq = 77n;
      }
      (await store.getState('k'))!.fill(1);
      (await store.getStates(['k']))[0]!.fill(1);
      for (const [, bytes] of await store.stateRange('', 10)) bytes.fill(1);
      expect(await dump(store, [idA])).toEqual(before);
    });

    it('rejects every operation after close', async () => {
      const store = await open();
      await store.commit(batch(run(authorA, 1, 1)));
      await store.close();
      await store.close(); // twice is fine
      await expect(store.commit(batch(run(authorA, 2, 2)))).rejects.toThrow(AssertionError);
      await expect(store.latestHeads()).rejects.toThrow(AssertionError);
      await expect(store.latestHead(idA)).rejects.toThrow(AssertionError);
      await expect(store.headAtOrAfter(idA, 1)).rejects.toThrow(AssertionError);
      await expect(store.headAtOrBefore(idA, 1)).rejects.toThrow(AssertionError);
      await expect(store.entries(idA, 1, 1, 1)).rejects.toThrow(AssertionError);
      await expect(store.getState('k')).rejects.toThrow(AssertionError);
      await expect(store.getStates(['k'])).rejects.toThrow(AssertionError);
      await expect(store.stateRange('', 1)).rejects.toThrow(AssertionError);
    });

    it.runIf(reopen !== undefined)('returns exactly what was committed after reopen', async () => {
      let store = await fresh();
      await store.commit(batch({ ...run(authorA, 1, 3), state: [put('view/a', 'a'), put('view/b', 'b')] }));
      await store.commit(batch({ entries: run(authorA, 4, 8).entries, heads: [makeHead(authorA, 6), makeHead(authorA, 8)] }));
      await store.commit(batch({ ...run(authorB, 1, 2), state: [del('view/a'), put('meta/x', 'm')] }));
      const before = await dump(store, [idA, idB, idC]);
      store = await again(store);
      expect(await dump(store, [idA, idB, idC])).toEqual(before);
      // The contract checks see the reopened log.
      await expect(store.commit(batch(run(authorA, 10, 10)))).rejects.toThrow(AssertionError);
      await store.commit(batch(run(authorA, 9, 9)));
      store = await again(store);
      expect(Number((await store.latestHead(idA))!.head!.seq)).toBe(9);
    });

    it('matches a model under random valid and invalid batches', async () => {
      const seed = testSeed();
      console.log(`storeCompliance(${name}) model test seed ${seed} (replay with TONGXING_SEED=${seed})`);
      const random = prng(seed);
      const authors = [authorA, authorB, authorC];
      const ids = authors.map(hex);
      const keyParts = ['a', 'b', '/', '\u00e9', '\u{1f600}', '\uffee'];
      const keys: string[] = [];
      for (const x of keyParts) for (const y of ['', ...keyParts]) keys.push(`k${x}${y}`);
      const prefixes = ['', 'k', 'ka', 'k/', 'k\u{1f600}', 'k\uffee', 'kb/', 'z'];

      // The model: per author the entry bytes (hex) by seq and the heads (hex) by seq; the state.
      const model = {
        entries: new Map<AuthorId, string[]>(ids.map((id) => [id, []])),
        heads: new Map<AuthorId, Map<number, string>>(ids.map((id) => [id, new Map()])),
        state: new Map<string, string>(),
      };
      const latestSeq = (id: AuthorId): number => model.entries.get(id)!.length;
      const modelAccepts = (b: CommitBatch): boolean => {
        for (const id of ids) {
          const stored = latestSeq(id);
          const seqs = b.entries.filter((e) => e.author === id).map((e) => e.seq);
          if (seqs.some((seq, i) => seq !== stored + 1 + i)) return false;
          const last = stored + seqs.length;
          if (b.heads.some((h) => h.head === undefined)) return false;
          const fresh = b.heads.filter((h) => hex(h.head!.author) === id && Number(h.head!.seq) > stored).map((h) => Number(h.head!.seq));
          if (new Set(fresh).size !== fresh.length) return false;
          if (fresh.some((seq) => seq > last)) return false;
          if (seqs.length > 0 && !fresh.includes(last)) return false;
        }
        return true;
      };
      const modelApply = (b: CommitBatch): void => {
        for (const id of ids) {
          const stored = latestSeq(id);
          for (const e of b.entries) if (e.author === id) model.entries.get(id)!.push(hex(e.bytes));
          for (const h of b.heads) {
            if (hex(h.head!.author) === id && Number(h.head!.seq) > stored) model.heads.get(id)!.set(Number(h.head!.seq), headHex(h)!);
          }
        }
        for (const change of b.state) {
          if (change.value === undefined) model.state.delete(change.key);
          else model.state.set(change.key, hex(change.value));
        }
      };

      const randomBatch = (): CommitBatch => {
        const perAuthor: StoredEntry[][] = [];
        const heads: SignedHead[] = [];
        for (const author of authors) {
          if (!random.chance(0.45)) continue;
          const stored = latestSeq(hex(author));
          const count = random.int(5);
          const entries: StoredEntry[] = [];
          for (let i = 1; i <= count; i++) {
            const bytes = Buffer.alloc(random.int(12));
            for (let j = 0; j < bytes.length; j++) bytes[j] = random.int(256);
            entries.push({ author: hex(author), seq: stored + i, bytes });
          }
          perAuthor.push(entries);
          for (let seq = stored + 1; seq < stored + count; seq++) if (random.chance(0.3)) heads.push(makeHead(author, seq, random.int(3)));
          if (count > 0) heads.push(makeHead(author, stored + count, random.int(3)));
          if (stored > 0 && random.chance(0.2)) heads.push(makeHead(author, 1 + random.int(stored), random.int(3))); // ignored
        }
        // Interleave the authors' runs, keeping each author's order.
        const entries: StoredEntry[] = [];
        while (perAuthor.some((list) => list.length > 0)) {
          const nonEmpty = perAuthor.filter((list) => list.length > 0);
          entries.push(random.pick(nonEmpty).shift()!);
        }
        for (let i = heads.length - 1; i > 0; i--) {
          const j = random.int(i + 1);
          [heads[i], heads[j]] = [heads[j]!, heads[i]!];
        }
        const state: StateChange[] = [];
        for (let i = random.int(4); i > 0; i--) {
          const key = random.pick(keys);
          state.push(random.chance(0.3) ? del(key) : { key, value: Buffer.from([random.int(256), random.int(256)]) });
        }
        return { entries, heads, state };
      };

      /** Breaks the batch in one of the ways the contract forbids (the model decides whether it did). */
      const corrupt = (b: CommitBatch): CommitBatch => {
        const entries = [...b.entries];
        const heads = [...b.heads];
        const author = random.pick(authors);
        switch (random.int(8)) {
          case 0: // gap
            if (entries.length > 0) {
              const i = random.int(entries.length);
              entries[i] = { ...entries[i]!, seq: entries[i]!.seq + 1 };
            }
            break;
          case 1: // drop a head
            if (heads.length > 0) heads.splice(random.int(heads.length), 1);
            break;
          case 2: // repeat an entry
            if (entries.length > 0) {
              const i = random.int(entries.length);
              entries.splice(i, 0, entries[i]!);
            }
            break;
          case 3: // swap two entries
            if (entries.length > 1) {
              const i = random.int(entries.length - 1);
              [entries[i], entries[i + 1]] = [entries[i + 1]!, entries[i]!];
            }
            break;
          case 4: // a head beyond the entries
            heads.push(makeHead(author, latestSeq(hex(author)) + 1 + random.int(8)));
            break;
          case 5: // a repeated head seq
            if (heads.length > 0) {
              const twin = random.pick(heads).head!;
              heads.push(makeHead(Buffer.from(twin.author), Number(twin.seq), 5));
            }
            break;
          case 6: // entries that start at the stored latest seq
            if (latestSeq(hex(author)) > 0) entries.unshift(makeEntry(author, latestSeq(hex(author))));
            break;
          case 7: // a head without its head
            heads.push({ head: undefined, signature: Buffer.alloc(1) });
            break;
        }
        return { entries, heads, state: b.state };
      };

      const compare = async (store: Store, step: number): Promise<void> => {
        const where = `seed ${seed} step ${step}`;
        const expectedLatest = ids
          .filter((id) => latestSeq(id) > 0)
          .sort()
          .map((id) => model.heads.get(id)!.get(latestSeq(id)));
        expect((await store.latestHeads()).map(headHex), where).toEqual(expectedLatest);
        for (const id of ids) {
          const last = latestSeq(id);
          const heads = model.heads.get(id)!;
          expect(headHex(await store.latestHead(id)), where).toBe(last === 0 ? undefined : heads.get(last));
          const headSeqs = [...heads.keys()].sort((x, y) => x - y);
          const probes = [0, 1, last, last + 1, ...Array.from({ length: 4 }, () => random.int(last + 2))];
          for (const seq of probes) {
            const after = headSeqs.find((s) => s >= seq);
            const before = headSeqs.filter((s) => s <= seq).at(-1);
            expect(headHex(await store.headAtOrAfter(id, seq)), `${where} after ${seq}`).toBe(after === undefined ? undefined : heads.get(after));
            expect(headHex(await store.headAtOrBefore(id, seq)), `${where} before ${seq}`).toBe(before === undefined ? undefined : heads.get(before));
          }
          const from = 1 + random.int(last + 2);
          const to = from + random.int(6) - 1;
          const limit = random.int(5);
          const expected = model.entries
            .get(id)!
            .slice(from - 1, Math.min(to, from + limit - 1))
            .map((bytes, i) => `${id.slice(0, 4)}#${from + i}=${bytes}`);
          expect(entryText(await store.entries(id, from, to, limit)), `${where} entries ${from}..${to} limit ${limit}`).toEqual(expected);
        }
        const stateKeys = [...model.state.keys()];
        expect((await store.getStates(keys)).map((v) => (v === undefined ? undefined : hex(v))), where).toEqual(keys.map((k) => model.state.get(k)));
        for (const prefix of prefixes) {
          const limit = random.int(8);
          const expected = stateKeys
            .filter((k) => k.startsWith(prefix))
            .sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
            .slice(0, limit)
            .map((k) => [k, model.state.get(k)]);
          const actual = (await store.stateRange(prefix, limit)).map(([k, v]) => [k, hex(v)]);
          expect(actual, `${where} prefix ${JSON.stringify(prefix)} limit ${limit}`).toEqual(expected);
        }
      };

      let store = await fresh();
      let accepted = 0;
      let rejected = 0;
      for (let step = 0; step < 150; step++) {
        const candidate = random.chance(0.35) ? corrupt(randomBatch()) : randomBatch();
        if (modelAccepts(candidate)) {
          await store.commit(candidate);
          modelApply(candidate);
          accepted++;
        } else {
          await expect(store.commit(candidate), `seed ${seed} step ${step}`).rejects.toThrow(AssertionError);
          rejected++;
        }
        if (reopen !== undefined && random.chance(0.05)) store = await again(store);
        await compare(store, step);
      }
      expect(accepted, `seed ${seed}`).toBeGreaterThan(20);
      expect(rejected, `seed ${seed}`).toBeGreaterThan(5);
    });
  });
}
