import { Head, SignedHead } from '../../gen/tongxing/log/v1/log.js';
import { nodeIdOf, sign, verify, type NonceSource, type Sm2KeyPair } from '../crypto/sm2.js';
import { VerifiedSignatures } from '../crypto/verified-signatures.js';
import { EncodingError, SignatureError, ValidationError } from '../errors.js';
import { verifiedHeadsMax } from '../limits.js';
import { toHex, zeroHash } from './entry.js';

/** The bytes an author signs: the canonical encoding of the head. */
export function headSigningBytes(head: Head): Uint8Array {
  return Head.encode(head).finish();
}

export function signHead(head: Head, keyPair: Sm2KeyPair, nonces?: NonceSource): SignedHead {
  return { head, signature: sign(keyPair.privateKey, headSigningBytes(head), keyPair.publicKey, undefined, nonces) };
}

/**
 * Checks that `signed` is a well-formed head of this alliance, signed by the
 * holder of `publicKey`, and that `keyOwner` (the member the key belongs to:
 * the SM3 of the key, unless the member rotated to it) is the head's author.
 * Returns the head. Throws ValidationError (shape), EncodingError (signature
 * bytes) or SignatureError.
 */
export function verifyHead(signed: SignedHead, publicKey: Uint8Array, allianceId: Uint8Array, keyOwner?: string): Head {
  const head = signed.head;
  if (!head) throw new ValidationError('head', 'missing');
  if (!Buffer.from(allianceId).equals(head.allianceId)) {
    throw new ValidationError('head.allianceId', `belongs to alliance ${toHex(head.allianceId)}, not ${toHex(allianceId)}`);
  }
  const bytes = headSigningBytes(head);
  // A claim already verified (same key, head and signature) passed every check below.
  const claim = verifiedHeads.claimOf(publicKey, bytes, signed.signature); // the author is inside `bytes`
  if (verifiedHeads.has(claim)) return head;
  if (head.entryHash.length !== 32) throw new ValidationError('head.entryHash', `must be 32 bytes, got ${head.entryHash.length}`);
  // seq 0 is the liveness beacon of a log with no entries yet.
  if (head.seq === 0n && !head.entryHash.equals(zeroHash)) throw new ValidationError('head.entryHash', 'must be zero at seq 0');
  const author = toHex(head.author);
  if (author !== (keyOwner ?? nodeIdOf(publicKey))) throw new ValidationError('head.author', `${author} is not the member the given key belongs to`);
  let valid: boolean;
  try {
    valid = verify(publicKey, bytes, signed.signature);
  } catch (error) {
    if (error instanceof EncodingError) throw new EncodingError(`head.signature: ${error.message}`);
    throw error;
  }
  if (!valid) throw new SignatureError(`head of ${author.slice(0, 12)} at seq ${head.seq}: signature does not verify`);
  verifiedHeads.add(claim);
  return head;
}

/** One head reaches a node by gossip, by anti-entropy and in pull chunks: it is verified once. */
const verifiedHeads = new VerifiedSignatures(verifiedHeadsMax);

export function encodeSignedHead(signed: SignedHead): Uint8Array {
  return SignedHead.encode(signed).finish();
}

export function decodeSignedHead(bytes: Uint8Array, field = 'head'): SignedHead {
  try {
    return SignedHead.decode(bytes);
  } catch (error) {
    throw new EncodingError(`${field}: not a SignedHead (${(error as Error).message})`);
  }
}
