import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { afterAll, describe, expect, it } from 'vitest';
import { makeEntry, makeHead, storeCompliance } from '../../federation/store/store.compliance.js';
import type { Store } from '../../federation/store/store.js';
import { LevelStore, prefixEnd } from './level.js';

const directories: string[] = [];
async function temporaryDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'tongxing-level-'));
  directories.push(directory);
  return directory;
}
afterAll(async () => {
  for (const directory of directories) await rm(directory, { recursive: true, force: true });
});

storeCompliance(
  'level',
  async () => LevelStore.open(await temporaryDirectory()),
  async (store: Store) => {
    const level = store as LevelStore;
    await level.close();
    return LevelStore.open(level.directory);
  },
);

describe('LevelStore schema', () => {
  it('writes schema version 1 on first open and opens it again', async () => {
    const directory = await temporaryDirectory();
    await (await LevelStore.open(directory)).close();
    const db = new Level<string, string>(directory);
    expect(await db.get('meta/schema')).toBe('1');
    await db.close();
    await (await LevelStore.open(directory)).close();
  });

  it('refuses another schema version', async () => {
    const directory = await temporaryDirectory();
    const db = new Level<string, string>(directory);
    await db.put('meta/schema', '2');
    await db.close();
    await expect(LevelStore.open(directory)).rejects.toMatchObject({ name: 'StoreSchemaError', versionFound: '2' });
    // The refused database was closed again: it is not left locked.
    const again = new Level<string, string>(directory);
    expect(await again.get('meta/schema')).toBe('2');
    await again.close();
  });

  it('refuses a database that is not a Tongxing store', async () => {
    const directory = await temporaryDirectory();
    const db = new Level<string, string>(directory);
    await db.put('some/key', 'value');
    await db.close();
    await expect(LevelStore.open(directory)).rejects.toMatchObject({ name: 'StoreSchemaError', versionFound: undefined });
  });

  it('refuses a log that does not end on its latest head', async () => {
    const directory = await temporaryDirectory();
    const store = await LevelStore.open(directory);
    const author = Buffer.alloc(32, 0xa1);
    await store.commit({ entries: [makeEntry(author, 1)], heads: [makeHead(author, 1)], state: [] });
    await store.close();
    const db = new Level<string, Uint8Array>(directory, { valueEncoding: 'view' });
    await db.put(`log/${author.toString('hex')}/${'2'.padStart(16, '0')}`, new Uint8Array([1]));
    await db.close();
    await expect(LevelStore.open(directory)).rejects.toMatchObject({ name: 'StoreCorruptError' });
  });
});

describe('LevelStore snapshot', () => {
  const entriesOf = (author: Buffer, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => makeEntry(author, from + i));
  const items = async (snapshot: ReturnType<LevelStore['snapshot']>, author: Buffer, upTo: number) => {
    const seen: string[] = [];
    for await (const item of snapshot.log(author.toString('hex'), upTo)) seen.push(`${item.kind} ${item.seq}`);
    return seen;
  };

  it('reads the store as it was when taken while commits go on, entries and heads interleaved in seq order', async () => {
    const store = await LevelStore.open(await temporaryDirectory());
    try {
      const a = Buffer.alloc(32, 0x0a);
      const b = Buffer.alloc(32, 0x0b);
      await store.commit({ entries: entriesOf(a, 1, 2), heads: [makeHead(a, 2)], state: [{ key: 'proof/x', value: new Uint8Array([1]) }] });
      await store.commit({ entries: entriesOf(a, 3, 3), heads: [makeHead(a, 3)], state: [] });
      await store.commit({ entries: entriesOf(b, 1, 1), heads: [makeHead(b, 1)], state: [] });
      const snapshot = store.snapshot();
      // Later commits, one of them while the snapshot is being read.
      await store.commit({ entries: entriesOf(a, 4, 5), heads: [makeHead(a, 5)], state: [{ key: 'proof/y', value: new Uint8Array([2]) }] });
      const reading = items(snapshot, a, 3);
      await store.commit({ entries: entriesOf(b, 2, 3), heads: [makeHead(b, 3)], state: [] });

      expect(await reading).toEqual(['entry 1', 'entry 2', 'head 2', 'entry 3', 'head 3']);
      expect(await snapshot.logs()).toEqual([
        { author: a.toString('hex'), seq: 3 },
        { author: b.toString('hex'), seq: 1 },
      ]);
      expect(await items(snapshot, b, 1)).toEqual(['entry 1', 'head 1']);
      expect((await snapshot.stateRange('proof/', 10)).map(([key]) => key)).toEqual(['proof/x']);
      await snapshot.close();
      expect((await store.latestHeads()).map((h) => Number(h.head!.seq))).toEqual([5, 3]);
      expect(await store.diskBytes()).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it('is closed with the store', async () => {
    const store = await LevelStore.open(await temporaryDirectory());
    const a = Buffer.alloc(32, 0x0c);
    await store.commit({ entries: entriesOf(a, 1, 1), heads: [makeHead(a, 1)], state: [] });
    const snapshot = store.snapshot();
    await store.close();
    await expect(snapshot.logs()).rejects.toThrow();
  });
});

describe('prefixEnd', () => {
  it('is the least string above every string with the prefix', () => {
    expect(prefixEnd('s/view/')).toBe('s/view0');
    expect(prefixEnd('a\ud7ff')).toBe('a\ue000');
    expect(prefixEnd('a\u{10ffff}')).toBe('b');
    expect(prefixEnd('\u{10ffff}')).toBeUndefined();
    expect(prefixEnd('')).toBeUndefined();
  });
});
