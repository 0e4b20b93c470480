// Seeded pseudo-random numbers for the simulator and the HTTP fuzzer: sfc32 (Chris Doty-Humphrey's
// Small Fast Counting generator, 128-bit state, passes PractRand to 2^40+ bytes),
// seeded from a seed *name* through FNV-1a 64 and splitmix32.
//
// Contract: a Prng's whole sequence is a function of its seed name alone, and
// `fork(label)` derives a child from the parent's name (not its position), so
// adding, removing or reordering consumers of one stream never perturbs another.
// Nothing in simulations/ may use Math.random() or Date.

import { AssertionError, assert } from '../errors.js';
import { Fnv1a64 } from './hash.js';
import type { Random } from '../replica/state.js';

export type Seed = number | string;

/** A value distribution, described as data so scenarios can carry it in their config. */
export type Distribution =
  | { readonly kind: 'constant'; readonly value: number }
  | { readonly kind: 'uniform'; readonly min: number; readonly max: number }
  /** Clipped to [min, max] when given. */
  | { readonly kind: 'normal'; readonly mean: number; readonly sd: number; readonly min?: number; readonly max?: number }
  /** exp(N(ln median, sigma)): right-skewed, like network latency. Clipped to [min, max] when given. */
  | { readonly kind: 'lognormal'; readonly median: number; readonly sigma: number; readonly min?: number; readonly max?: number }
  | { readonly kind: 'exponential'; readonly mean: number };

const twoPow32 = 0x1_0000_0000;

function splitmix32(state: number): number {
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Prng {
  /** The name this stream is derived from: the seed, then "/label" per fork. Print it to replay. */
  readonly seed: string;
  /** sfc32 words a, b, c, d (a typed array keeps them unboxed int32s). */
  private readonly state = new Int32Array(4);

  constructor(seed: Seed) {
    if (typeof seed === 'number') assert(Number.isSafeInteger(seed), `seed must be a safe integer or a string, got ${seed}`);
    this.seed = String(seed);
    const hash = new Fnv1a64();
    hash.mixString(this.seed);
    let mix = hash.low32;
    mix = (mix + 0x9e3779b9) | 0;
    this.state[0] = splitmix32(mix);
    mix = (mix + 0x9e3779b9) | 0;
    this.state[1] = splitmix32(mix);
    mix = (hash.high32 + 0x9e3779b9) | 0;
    this.state[2] = splitmix32(mix);
    mix = (mix + 0x9e3779b9) | 0;
    this.state[3] = splitmix32(mix) | 1; // the counter word; any value works, odd avoids an all-zero state
    for (let i = 0; i < 12; i++) this.next();
  }

  /** An independent stream named `${seed}/${label}`; does not consume from this one. */
  fork(label: string): Prng {
    return new Prng(`${this.seed}/${label}`);
  }

  /** Uniform uint32. */
  next(): number {
    const state = this.state;
    const a = state[0]!;
    const b = state[1]!;
    const c = state[2]!;
    const d = state[3]!;
    const t = (((a + b) | 0) + d) | 0;
    state[3] = d + 1;
    state[0] = b ^ (b >>> 9);
    state[1] = c + (c << 3);
    state[2] = (((c << 21) | (c >>> 11)) + t) | 0;
    return t >>> 0;
  }

  /** `length` uniform bytes. */
  bytes(length: number): Uint8Array {
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; i += 4) {
      let word = this.next();
      for (let j = i; j < i + 4 && j < length; j++) {
        bytes[j] = word & 0xff;
        word >>>= 8;
      }
    }
    return bytes;
  }

  /** This stream as the replica's Random (peer choices, signing nonces). */
  random(): Random {
    return { int: (maxExclusive) => this.int(0, maxExclusive), bytes: (length) => this.bytes(length) };
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  float(): number {
    return this.next() / twoPow32;
  }

  /** Uniform integer in [min, maxExclusive), unbiased (rejection sampling); the range is at most 2^32. */
  int(min: number, maxExclusive: number): number {
    const range = maxExclusive - min;
    if (!(range > 0 && range <= twoPow32 && Number.isSafeInteger(min) && Number.isSafeInteger(maxExclusive))) {
      throw new AssertionError(`int range must be integers with 1 <= maxExclusive - min <= 2^32, got [${min}, ${maxExclusive})`);
    }
    const limit = twoPow32 - (twoPow32 % range);
    let value = this.next();
    while (value >= limit) value = this.next();
    return min + (value % range);
  }

  /** True with probability p; consumes nothing when p <= 0 or p >= 1. */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'pick from an empty array');
    return items[this.int(0, items.length)]!;
  }

  /** Fisher–Yates, in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      const item = items[i]!;
      items[i] = items[j]!;
      items[j] = item;
    }
    return items;
  }

  uniform(min: number, max: number): number {
    return min + (max - min) * this.float();
  }

  /** Box–Muller; uses two draws per value (no cached spare, so the stream position is simple to reason about). */
  normal(mean = 0, sd = 1): number {
    const u1 = 1 - this.float(); // (0, 1]: log is finite
    const u2 = this.float();
    return mean + sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** exp(N(mu, sigma)); the median is exp(mu). */
  lognormal(mu: number, sigma: number): number {
    return Math.exp(this.normal(mu, sigma));
  }

  exponential(mean: number): number {
    return -mean * Math.log(1 - this.float());
  }

  sample(distribution: Distribution): number {
    switch (distribution.kind) {
      case 'constant':
        return distribution.value;
      case 'uniform':
        return this.uniform(distribution.min, distribution.max);
      case 'normal':
        return clip(this.normal(distribution.mean, distribution.sd), distribution.min, distribution.max);
      case 'lognormal':
        return clip(this.lognormal(Math.log(distribution.median), distribution.sigma), distribution.min, distribution.max);
      case 'exponential':
        return this.exponential(distribution.mean);
    }
  }
}

function clip(value: number, min: number | undefined, max: number | undefined): number {
  if (min !== undefined && value < min) return min;
  if (max !== undefined && value > max) return max;
  return value;
}
