import { sm3 } from './sm3.js';

/**
 * Signatures already verified, remembered by SM3(public key || message ||
 * signature) in FIFO order up to `max` (an SM2 verification costs ~0.7-1.4 ms,
 * hashing the claim ~2 us). Only successes are kept, and a claim names all
 * three inputs, so it is a memo of a pure function: it changes no outcome
 * (Bitcoin Core's signature cache is the same idea).
 */
export class VerifiedSignatures {
  readonly #claims = new Set<string>();

  constructor(readonly max: number) {}

  claimOf(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): string {
    return sm3(Buffer.concat([publicKey, message, signature])).toString('hex');
  }

  has(claim: string): boolean {
    return this.#claims.has(claim);
  }

  add(claim: string): void {
    if (this.#claims.size >= this.max) this.#claims.delete(this.#claims.values().next().value!);
    this.#claims.add(claim);
  }
}
