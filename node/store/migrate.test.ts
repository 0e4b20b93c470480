import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { afterAll, describe, expect, it } from 'vitest';
import { makeEntry, makeHead } from '../../federation/store/store.compliance.js';
import { LevelStore } from './level.js';
import { openSchema, storeSchemaVersion, type Migration, type StoreDatabase } from './migrate.js';

// Schema versions on real LevelDB: an older store is migrated step by step,
// a newer one refused with both versions named, a foreign database refused.

const directories: string[] = [];
async function temporaryDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'tongxing-migrate-'));
  directories.push(directory);
  return directory;
}
afterAll(async () => {
  for (const directory of directories) await rm(directory, { recursive: true, force: true });
});

const text = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : new TextDecoder().decode(value));
const bytes = (value: string): Uint8Array => new TextEncoder().encode(value);

async function withDatabase<T>(directory: string, use: (db: StoreDatabase) => Promise<T>): Promise<T> {
  const db = new Level<string, Uint8Array>(directory, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  try {
    return await use(db);
  } finally {
    await db.close();
  }
}

describe('store schema migration', () => {
  it('migrates a version 0 store (the layout without meta/schema) to the current version and opens it', async () => {
    const directory = await temporaryDirectory();
    // A store as version 1 writes it, then the marker removed: what version 0 is.
    const author = Buffer.alloc(32, 0xb2);
    const store = await LevelStore.open(directory);
    await store.commit({ entries: [makeEntry(author, 1), makeEntry(author, 2)], heads: [makeHead(author, 2)], state: [{ key: 'view/x', value: bytes('y') }] });
    await store.close();
    await withDatabase(directory, (db) => db.del('meta/schema'));

    const steps: string[] = [];
    const reopened = await LevelStore.open(directory, { onMigrate: (step) => steps.push(`${step.from}->${step.to}: ${step.description}`) });
    try {
      expect(steps).toEqual(['0->1: write the schema marker meta/schema (the key layout is unchanged)']);
      expect((await reopened.latestHeads()).map((h) => Number(h.head!.seq))).toEqual([2]);
      expect(text(await reopened.getState('view/x'))).toBe('y');
    } finally {
      await reopened.close();
    }
    await withDatabase(directory, async (db) => expect(text(await db.get('meta/schema'))).toBe(String(storeSchemaVersion)));
    // Opened again: nothing left to migrate.
    const again: string[] = [];
    await (await LevelStore.open(directory, { onMigrate: (step) => again.push(step.description) })).close();
    expect(again).toEqual([]);
  });

  it('refuses a newer store, naming both versions, and leaves it untouched', async () => {
    const directory = await temporaryDirectory();
    await withDatabase(directory, async (db) => {
      await db.put('meta/schema', bytes('7'));
      await db.put('log/aa/0000000000000001', bytes('entry'));
    });
    const refusal = await LevelStore.open(directory).catch((error: unknown) => error);
    expect(refusal).toMatchObject({ name: 'StoreSchemaError', versionFound: '7', versionSupported: storeSchemaVersion });
    expect((refusal as Error).message).toContain(`store schema version 7 is newer than this build reads (version ${storeSchemaVersion})`);
    expect((refusal as Error).message).toMatch(/never migrated back/);
    await withDatabase(directory, async (db) => {
      expect(text(await db.get('meta/schema'))).toBe('7');
      expect(text(await db.get('log/aa/0000000000000001'))).toBe('entry');
    });
  });

  it('refuses a version it does not know and a database with keys outside a store layout', async () => {
    const garbled = await temporaryDirectory();
    await withDatabase(garbled, (db) => db.put('meta/schema', bytes('1.5')));
    await expect(LevelStore.open(garbled)).rejects.toThrow(/store schema version "1.5" is not one this build knows \(it reads versions 0 to 1\)/);

    for (const foreign of ['a-key', 'head0', 'mint/1', 'zzz']) {
      const directory = await temporaryDirectory();
      await withDatabase(directory, async (db) => {
        await db.put('log/aa/0000000000000001', bytes('entry'));
        await db.put(foreign, bytes('value'));
      });
      await expect(LevelStore.open(directory), foreign).rejects.toMatchObject({ name: 'StoreSchemaError', versionFound: undefined });
      await withDatabase(directory, async (db) => expect(await db.get('meta/schema')).toBeUndefined());
    }
  });

  it('runs the steps in order from the version found, each leaving its version', async () => {
    const directory = await temporaryDirectory();
    const ran: string[] = [];
    const step = (from: number, change: (db: StoreDatabase) => Promise<void>): Migration => ({
      from,
      to: from + 1,
      description: `step ${from}`,
      async run(db) {
        ran.push(`${from}->${from + 1} saw ${text(await db.get('meta/schema'))}`);
        await change(db);
        await db.put('meta/schema', bytes(String(from + 1)));
      },
    });
    // Version 2 renames s/old to s/new; version 3 adds a count.
    const steps = [
      step(1, async (db) => {
        const value = await db.get('s/old');
        await db.batch([{ type: 'del', key: 's/old' }, { type: 'put', key: 's/new', value: value! }]);
      }),
      step(2, (db) => db.put('s/count', bytes('1'))),
      step(3, async () => {}),
    ];
    await withDatabase(directory, async (db) => {
      await db.put('meta/schema', bytes('2'));
      await db.put('s/new', bytes('kept'));
      expect(await openSchema(db, directory, { migrations: steps, version: 4 })).toBe(2);
      expect(ran).toEqual(['2->3 saw 2', '3->4 saw 3']);
      expect(text(await db.get('s/count'))).toBe('1');
      expect(text(await db.get('meta/schema'))).toBe('4');

      ran.length = 0;
      await db.put('meta/schema', bytes('1'));
      await db.put('s/old', bytes('moved'));
      await openSchema(db, directory, { migrations: steps, version: 4 });
      expect(ran).toEqual(['1->2 saw 1', '2->3 saw 2', '3->4 saw 3']);
      expect(text(await db.get('s/new'))).toBe('moved');
      expect(await db.get('s/old')).toBeUndefined();
    });
  });

  it('asserts that the steps are consecutive and end at the version written, and that each writes its version', async () => {
    const directory = await temporaryDirectory();
    const noop = (from: number, to = from + 1): Migration => ({ from, to, description: '', run: async () => {} });
    await withDatabase(directory, async (db) => {
      await db.put('meta/schema', bytes('1'));
      await expect(openSchema(db, directory, { migrations: [noop(1), noop(3)], version: 4 })).rejects.toMatchObject({ name: 'AssertionError' });
      await expect(openSchema(db, directory, { migrations: [noop(1)], version: 3 })).rejects.toMatchObject({ name: 'AssertionError' });
      await expect(openSchema(db, directory, { migrations: [noop(1)], version: 2 })).rejects.toThrow(/did not write meta\/schema 2/);
    });
  });

  it('marks a new empty store with the current version', async () => {
    const directory = await temporaryDirectory();
    await withDatabase(directory, async (db) => {
      expect(await openSchema(db, directory)).toBeUndefined();
      expect(text(await db.get('meta/schema'))).toBe(String(storeSchemaVersion));
    });
  });
});
