import { describe, expect, it } from 'vitest';
import { AssertionError } from '../errors.js';
import { MemoryStore, compareKeys } from './memory.js';
import { makeEntry, makeHead, storeCompliance } from './store.compliance.js';

storeCompliance(
  'memory',
  async () => new MemoryStore(),
  async (store) => (store as MemoryStore).reopen(),
);

describe('MemoryStore.reopen', () => {
  const author = Buffer.alloc(32, 0xa1);
  const id = author.toString('hex');
  const commitRun = (store: MemoryStore, from: number, to: number, state: Array<[string, string | undefined]>) =>
    store.commit({
      entries: Array.from({ length: to - from + 1 }, (_, i) => makeEntry(author, from + i)),
      heads: [makeHead(author, to)],
      state: state.map(([key, value]) => ({ key, value: value === undefined ? undefined : Buffer.from(value) })),
    });
  const stateOf = async (store: MemoryStore) =>
    (await store.stateRange('', 100)).map(([key, value]) => `${key}=${Buffer.from(value).toString()}`);

  it('keeps every commit and closes the old instance', async () => {
    const store = new MemoryStore();
    await commitRun(store, 1, 2, [['k', '1']]);
    const reopened = store.reopen();
    await expect(store.latestHeads()).rejects.toThrow(AssertionError);
    expect(Number((await reopened.latestHead(id))!.head!.seq)).toBe(2);
    expect(await stateOf(reopened)).toEqual(['k=1']);
  });

  it('can lose the last commit, as a crash before it reached the disk', async () => {
    const store = new MemoryStore();
    await commitRun(store, 1, 2, [['kept', '1'], ['changed', 'old'], ['deleted', 'old']]);
    await commitRun(store, 3, 5, [['changed', 'new'], ['deleted', undefined], ['added', 'new'], ['added', 'newer']]);
    // A rejected commit is not the last commit.
    await expect(commitRun(store, 9, 9, [['x', 'y']])).rejects.toThrow(AssertionError);

    const crashed = store.reopen({ loseLastCommit: true });
    expect(Number((await crashed.latestHead(id))!.head!.seq)).toBe(2);
    expect(await crashed.headAtOrAfter(id, 3)).toBeUndefined();
    expect((await crashed.entries(id, 1, 10, 10)).map((e) => e.seq)).toEqual([1, 2]);
    expect(await stateOf(crashed)).toEqual(['changed=old', 'deleted=old', 'kept=1']);

    // The log continues from the surviving head, possibly with different entries.
    await commitRun(crashed, 3, 3, []);
    // Only one commit can be lost, and reopening makes everything before it durable.
    const again = crashed.reopen({ loseLastCommit: true }).reopen({ loseLastCommit: true });
    expect(Number((await again.latestHead(id))!.head!.seq)).toBe(2);
  });

  it('forgets a new author entirely when its first commit is lost', async () => {
    const store = new MemoryStore();
    await commitRun(store, 1, 1, []);
    const crashed = store.reopen({ loseLastCommit: true });
    expect(await crashed.latestHeads()).toEqual([]);
    await commitRun(crashed, 1, 1, []);
    expect((await crashed.latestHeads()).length).toBe(1);
  });
});

describe('compareKeys', () => {
  it('orders as UTF-8 bytes', () => {
    const keys = ['b', 'a', '\uffff', '\u{10000}', '\ue000', '\u{1f600}', 'ab', '', '\u00e9', '\u4e2d'];
    const expected = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...keys].sort(compareKeys)).toEqual(expected);
  });
});
