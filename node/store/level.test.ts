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

describe('prefixEnd', () => {
  it('is the least string above every string with the prefix', () => {
    expect(prefixEnd('s/view/')).toBe('s/view0');
    expect(prefixEnd('a\ud7ff')).toBe('a\ue000');
    expect(prefixEnd('a\u{10ffff}')).toBe('b');
    expect(prefixEnd('\u{10ffff}')).toBeUndefined();
    expect(prefixEnd('')).toBeUndefined();
  });
});
