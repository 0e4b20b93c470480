import { describe, expect, test } from 'vitest';
import { Fnv1a64, fnv1a64Hex } from './hash.js';
import { Prng } from './prng.js';

describe('Fnv1a64', () => {
  test('matches the published FNV-1a 64 vectors', () => {
    expect(fnv1a64Hex('')).toBe('cbf29ce484222325');
    expect(fnv1a64Hex('a')).toBe('af63dc4c8601ec8c');
    expect(fnv1a64Hex('foobar')).toBe('85944171f73967e8');
  });

  test('numbers and strings are delimited', () => {
    const a = new Fnv1a64();
    a.mixString('ab');
    a.mixString('c');
    const b = new Fnv1a64();
    b.mixString('a');
    b.mixString('bc');
    expect(a.hex()).not.toBe(b.hex());
  });
});

describe('Prng', () => {
  test('same seed, same sequence; number and string seeds of the same name agree', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng('42');
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(Array.from({ length: 1000 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 1000 }, () => c.next())).toEqual(xs);
    expect(new Prng(43).next()).not.toBe(xs[0]);
  });

  test('streams are pinned: a printed seed replays the same run after code changes', () => {
    // Changing these values breaks every recorded seed; do it only on purpose.
    const rng = new Prng(1);
    expect([rng.next(), rng.next(), rng.next()]).toEqual([144525471, 623996844, 820800780]);
    const fork = new Prng('tongxing').fork('network');
    expect([fork.next(), fork.int(0, 1000), fork.float()]).toEqual([1734405412, 81, 0.0012485962361097336]);
  });

  test('next() is a uint32 and float() is in [0, 1)', () => {
    const rng = new Prng('range');
    const bad: number[] = [];
    for (let i = 0; i < 100_000; i++) {
      const n = rng.next();
      if (!(Number.isInteger(n) && n >= 0 && n < 2 ** 32)) bad.push(n);
      const f = rng.float();
      if (!(f >= 0 && f < 1)) bad.push(f);
    }
    expect(bad).toEqual([]);
  });

  test('fork is independent of the parent position and of sibling forks', () => {
    const parent = new Prng('fork');
    const early = parent.fork('network');
    for (let i = 0; i < 500; i++) parent.next();
    parent.fork('extra-consumer').next();
    const late = parent.fork('network');
    const xs = Array.from({ length: 100 }, () => early.next());
    expect(Array.from({ length: 100 }, () => late.next())).toEqual(xs);
    expect(early.seed).toBe('fork/network');
    const other = new Prng('fork').fork('mesh');
    expect(other.next()).not.toBe(new Prng('fork').fork('network').next());
    // a fork's stream is not the parent's stream
    expect(new Prng('fork').next()).not.toBe(new Prng('fork').fork('network').next());
  });

  test('int stays within [min, maxExclusive) and reaches both ends', () => {
    const seed = 'int-bounds';
    const rng = new Prng(seed);
    console.log(`seed ${seed}`);
    const seen = new Set<number>();
    for (let i = 0; i < 20_000; i++) seen.add(rng.int(-3, 4));
    expect([...seen].sort((x, y) => x - y)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
    let widest = 0;
    for (let i = 0; i < 1000; i++) widest = Math.max(widest, rng.int(0, 2 ** 32));
    expect(widest).toBeLessThan(2 ** 32);
    expect(widest).toBeGreaterThan(2 ** 31);
    expect(rng.int(5, 6)).toBe(5);
    expect(() => rng.int(3, 3)).toThrow(/range/);
  });

  test('int is close to uniform (chi-squared, 10 buckets)', () => {
    const seed = 'int-uniform';
    console.log(`seed ${seed}`);
    const rng = new Prng(seed);
    const counts = new Array<number>(10).fill(0);
    const draws = 100_000;
    for (let i = 0; i < draws; i++) counts[rng.int(0, 10)]!++;
    const expected = draws / 10;
    const chiSquared = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
    expect(chiSquared).toBeLessThan(27.9); // p = 0.001 at 9 degrees of freedom
  });

  test('shuffle is a permutation, and does move things', () => {
    const rng = new Prng('shuffle');
    for (let n = 0; n < 50; n++) {
      const items = Array.from({ length: n }, (_, i) => i);
      const shuffled = rng.shuffle([...items]);
      expect([...shuffled].sort((a, b) => a - b)).toEqual(items);
    }
    const big = Array.from({ length: 100 }, (_, i) => i);
    expect(rng.shuffle([...big])).not.toEqual(big);
  });

  test('pick and chance', () => {
    const rng = new Prng('pick');
    const items = ['a', 'b', 'c'];
    expect(new Set(Array.from({ length: 100 }, () => rng.pick(items)))).toEqual(new Set(items));
    expect(() => rng.pick([])).toThrow();
    let hits = 0;
    for (let i = 0; i < 100_000; i++) if (rng.chance(0.25)) hits++;
    expect(Math.abs(hits / 100_000 - 0.25)).toBeLessThan(0.01);
    expect(rng.chance(0)).toBe(false);
    expect(rng.chance(1)).toBe(true);
  });

  test('distributions have the expected centre and spread, and respect clipping', () => {
    const rng = new Prng('distributions');
    const n = 50_000;
    const mean = (f: () => number): number => {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += f();
      return sum / n;
    };
    expect(mean(() => rng.uniform(20, 60))).toBeCloseTo(40, 0);
    expect(mean(() => rng.normal(10, 2))).toBeCloseTo(10, 1);
    expect(mean(() => rng.exponential(5))).toBeCloseTo(5, 0);
    const normals = Array.from({ length: n }, () => rng.normal(0, 3));
    const sd = Math.sqrt(normals.reduce((s, x) => s + x * x, 0) / n);
    expect(sd).toBeCloseTo(3, 1);
    const logs = Array.from({ length: n }, () => rng.sample({ kind: 'lognormal', median: 35, sigma: 0.3 })).sort((a, b) => a - b);
    expect(logs[n / 2]!).toBeGreaterThan(34);
    expect(logs[n / 2]!).toBeLessThan(36);
    const clipped = Array.from({ length: 1000 }, () => rng.sample({ kind: 'normal', mean: 40, sd: 30, min: 20, max: 60 }));
    expect(Math.min(...clipped)).toBe(20);
    expect(Math.max(...clipped)).toBe(60);
    expect(rng.sample({ kind: 'constant', value: 7 })).toBe(7);
  });
});
