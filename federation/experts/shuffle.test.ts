import { describe, expect, it } from 'vitest';
import { sm3 } from '../crypto/sm3.js';
import { DrawStream, seedCommitment, seededShuffle } from './shuffle.js';

const seed = Buffer.alloc(32, 0x42);

describe('seeded shuffle', () => {
  it('commits to the seed with SM3', () => {
    expect(seedCommitment(seed)).toEqual(sm3(seed));
  });

  it('is the documented SM3 counter-mode stream', () => {
    const block0 = sm3(Buffer.concat([Buffer.from('tongxing-draw\0'), seed, Buffer.from([0, 0, 0, 3]), Buffer.from([0, 0, 0, 0])]));
    const stream = new DrawStream(seed, 3);
    expect(stream.nextWord()).toBe(block0.readUInt32BE(0));
    expect(stream.nextWord()).toBe(block0.readUInt32BE(4));
  });

  it('gives the same order for the same seed, stream and input, and another for another seed or stream', () => {
    const refs = Array.from({ length: 20 }, (_, i) => `e-${i.toString().padStart(2, '0')}`);
    const once = seededShuffle(refs, seed, 0);
    expect(seededShuffle(refs, seed, 0)).toEqual(once);
    expect([...once].sort()).toEqual(refs);
    expect(seededShuffle(refs, Buffer.alloc(32, 0x43), 0)).not.toEqual(once);
    expect(seededShuffle(refs, seed, 1)).not.toEqual(once);
  });

  it('golden order (any reimplementation of the draw must produce it)', () => {
    expect(seededShuffle(['a', 'b', 'c', 'd', 'e', 'f'], seed, 0)).toEqual(['e', 'd', 'b', 'f', 'a', 'c']);
  });

  it('is roughly uniform: each of 3 items is first about a third of the time', () => {
    const firsts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const s = Buffer.alloc(32);
      s.writeUInt32BE(i);
      const first = seededShuffle(['x', 'y', 'z'], s, 0)[0]!;
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
    }
    for (const count of firsts.values()) expect(Math.abs(count - 1000)).toBeLessThan(120);
  });

  it('refuses a seed of the wrong size (a bug in the caller)', () => {
    expect(() => new DrawStream(Buffer.alloc(16), 0)).toThrow(/32 bytes/);
  });
});
