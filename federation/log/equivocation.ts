import type { EquivocationProof, SignedHead } from '../../gen/tongxing/log/v1/log.js';
import { ValidationError } from '../errors.js';
import { toHex } from './entry.js';
import { verifyHead } from './head.js';
import { ForkError, verifyRange } from './verify.js';

export interface Equivocation {
  readonly author: string;
  /** The two heads disagree about the author's log at this seq (or earlier). */
  readonly seq: number;
}

/**
 * A proof from two heads (any order) and, when their seqs differ, the
 * entries of the higher head's log after the lower head's seq.
 */
export function makeProof(a: SignedHead, b: SignedHead, chain: readonly Uint8Array[] = []): EquivocationProof {
  const [first, second] = a.head!.seq <= b.head!.seq ? [a, b] : [b, a];
  return { first, second, chain: chain.map((c) => Buffer.from(c)) };
}

/**
 * Checks that a proof shows two signed histories of one author, so anyone can
 * verify it offline. Throws ValidationError (or the head's SignatureError)
 * when it does not prove anything.
 */
export function verifyProof(proof: EquivocationProof, publicKey: Uint8Array, allianceId: Uint8Array, keyOwner?: string): Equivocation {
  const { first, second } = proof;
  if (!first || !second) throw new ValidationError('proof', 'needs two heads');
  const low = verifyHead(first, publicKey, allianceId, keyOwner);
  const high = verifyHead(second, publicKey, allianceId, keyOwner);
  if (!low.author.equals(high.author)) throw new ValidationError('proof.second.head.author', 'heads of different authors');
  if (low.seq > high.seq) throw new ValidationError('proof.first.head.seq', 'first must not be above second');
  const author = toHex(low.author);
  const seq = Number(low.seq);
  if (low.seq === high.seq) {
    if (low.entryHash.equals(high.entryHash)) throw new ValidationError('proof', 'the heads agree');
    if (proof.chain.length > 0) throw new ValidationError('proof.chain', 'must be empty for heads at one seq');
    return { author, seq };
  }
  // The chain is authenticated by `second`; it disagrees with `first` exactly when it does not extend it.
  try {
    verifyRange({ allianceId, publicKey, signedHead: second, tip: { seq, hash: low.entryHash }, entries: proof.chain });
  } catch (error) {
    if (error instanceof ForkError) return { author, seq };
    throw new ValidationError('proof.chain', (error as Error).message);
  }
  throw new ValidationError('proof', 'the second head extends the first');
}
