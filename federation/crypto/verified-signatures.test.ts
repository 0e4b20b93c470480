import { describe, expect, it } from 'vitest';
import { VerifiedSignatures } from './verified-signatures.js';

const bytes = (...values: number[]) => new Uint8Array(values);

describe('VerifiedSignatures', () => {
  it('names all three inputs in a claim, so a signature remembered for one message or key vouches for no other', () => {
    const memo = new VerifiedSignatures(8);
    const claim = memo.claimOf(bytes(1), bytes(2), bytes(3));
    expect(memo.claimOf(bytes(1), bytes(2), bytes(3))).toBe(claim);
    expect(new Set([claim, memo.claimOf(bytes(9), bytes(2), bytes(3)), memo.claimOf(bytes(1), bytes(9), bytes(3)), memo.claimOf(bytes(1), bytes(2), bytes(9))]).size).toBe(4);
    memo.add(claim);
    expect(memo.has(claim)).toBe(true);
    expect(memo.has(memo.claimOf(bytes(1), bytes(9), bytes(3)))).toBe(false);
  });

  it('forgets the oldest claim first once it holds max', () => {
    const memo = new VerifiedSignatures(2);
    const [a, b, c] = [1, 2, 3].map((n) => memo.claimOf(bytes(n), bytes(), bytes()));
    memo.add(a!);
    memo.add(b!);
    memo.add(c!);
    expect([memo.has(a!), memo.has(b!), memo.has(c!)]).toEqual([false, true, true]);
  });
});
