import { describe, expect, it } from 'vitest';
import { stateRangeAfter } from './scan.js';
import { MemoryStore } from './store/memory.js';

// Paging a prefix with a store that only ranges from a prefix: every key
// exactly once, in order, whatever the page size; seeded, the seed is printed.

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
}

describe('stateRangeAfter', () => {
  for (const seed of [1, 2, 3]) {
    it(`pages every key once, in key order (seed ${seed})`, async () => {
      const next = random(seed);
      const store = new MemoryStore();
      const chars = 'AB09%-._~z';
      const keys = new Set<string>();
      while (keys.size < 300) {
        const length = 1 + Math.floor(next() * 6);
        keys.add('view/x/' + Array.from({ length }, () => chars[Math.floor(next() * chars.length)]).join(''));
      }
      const other = ['view/w/zz', 'view/y/a', 'view/x'];
      await store.commit({ entries: [], heads: [], state: [...keys, ...other].map((key) => ({ key, value: new Uint8Array([1]) })) });
      const expected = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const pageSize of [1, 7, 50, 1000]) {
        const seen: string[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await stateRangeAfter(store, 'view/x/', after, pageSize);
          seen.push(...page.map(([key]) => key));
          if (page.length < pageSize) break;
          after = page[page.length - 1]![0];
        }
        expect(seen, `seed ${seed}, page ${pageSize}`).toEqual(expected);
      }
    });
  }
});
