import { sm3 } from '../crypto/sm3.js';
import { assert } from '../errors.js';

// The draw's randomness: a seed the host commits to (SM3(seed) in the session
// record) before any candidate list exists, revealed with the draw. Everything
// random in a draw comes from SM3 in counter mode over the seed, so anyone with
// the seed and the candidates gets the same order, in any language: block k of
// stream s is SM3("tongxing-draw" 0x00 || seed || u32be(s) || u32be(k)), read
// as eight big-endian 32-bit words.

export const drawSeedBytes = 32;

export function seedCommitment(seed: Uint8Array): Buffer {
  return sm3(seed);
}

// Made on first use, not at load: validate.ts imports this module, and the console loads validate.ts in a browser (no Buffer).
let label: Buffer | undefined;

/** A deterministic stream of 32-bit words for one requirement's shuffle. */
export class DrawStream {
  readonly #prefix: Buffer;
  #counter = 0;
  #block: Buffer = Buffer.alloc(0);
  #offset = 0;

  constructor(seed: Uint8Array, stream: number) {
    assert(seed.length === drawSeedBytes, `a draw seed is ${drawSeedBytes} bytes, got ${seed.length}`);
    assert(Number.isInteger(stream) && stream >= 0 && stream <= 0xffffffff, 'stream must be a u32');
    const index = Buffer.alloc(4);
    index.writeUInt32BE(stream);
    label ??= Buffer.from('tongxing-draw\0', 'utf8');
    this.#prefix = Buffer.concat([label, seed, index]);
  }

  nextWord(): number {
    if (this.#offset === this.#block.length) {
      const counter = Buffer.alloc(4);
      counter.writeUInt32BE(this.#counter++);
      this.#block = sm3(Buffer.concat([this.#prefix, counter]));
      this.#offset = 0;
    }
    const word = this.#block.readUInt32BE(this.#offset);
    this.#offset += 4;
    return word;
  }

  /** Uniform in [0, n), without modulo bias: words at or above the largest multiple of n are drawn again. */
  below(n: number): number {
    assert(Number.isInteger(n) && n >= 1 && n <= 0x100000000, `below(${n})`);
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const word = this.nextWord();
      if (word < limit) return word % n;
    }
  }
}

/**
 * Fisher-Yates over `items` in the order given (callers sort them canonically
 * first): for i from n-1 down to 1, swap i with below(i + 1). Returns a new array.
 */
export function seededShuffle<T>(items: readonly T[], seed: Uint8Array, stream: number): T[] {
  const out = items.slice();
  const random = new DrawStream(seed, stream);
  for (let i = out.length - 1; i >= 1; i--) {
    const j = random.below(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
