import type { Head, SignedHead } from '../../gen/tongxing/log/v1/log.js';
import { ChainError, LimitError } from '../errors.js';
import { rangeEntriesMax } from '../limits.js';
import { decodeEntry, equalBytes, toHex, zeroHash, type HashedEntry } from './entry.js';
import { verifyHead } from './head.js';

export interface VerifyRangeInput {
  readonly allianceId: Uint8Array;
  /** The author's SM2 public key, from the membership. */
  readonly publicKey: Uint8Array;
  /** The member the key belongs to, when it is not the key's SM3 (a rotated key). */
  readonly keyOwner?: string;
  readonly signedHead: SignedHead;
  /** The author's log as already stored here: its last seq and that entry's hash. */
  readonly tip: { readonly seq: number; readonly hash: Uint8Array };
  /** Encoded entries tip.seq+1 .. head.seq, in order. */
  readonly entries: readonly Uint8Array[];
}

export interface VerifiedRange {
  readonly head: Head;
  readonly entries: HashedEntry[];
}

/**
 * The received log does not pass through what is stored here: the author
 * signed two histories. Carries what an equivocation proof needs.
 */
export class ForkError extends ChainError {
  override name = 'ForkError';
  constructor(
    message: string,
    readonly signedHead: SignedHead,
    readonly entries: readonly HashedEntry[],
  ) {
    super(message);
  }
}

/**
 * Verifies a received range against its signed head and the stored tip:
 * head signature by the author, then every entry's envelope read, in the
 * right alliance, log and position, hash-chained to the next, the last one
 * hashing to the head. One signature covers the whole range. Records are
 * not decoded here: an authentic entry is stored whatever its record, and
 * views ignore an invalid one with the reason (see views/apply.ts), so one
 * bad record cannot wedge its author's log on every other node.
 *
 * Throws (and the caller stores nothing): ValidationError (head shape),
 * EncodingError, SignatureError, LimitError, ChainError; ForkError when the range is
 * authentic but does not extend the stored tip.
 */
export function verifyRange(input: VerifyRangeInput): VerifiedRange {
  const { signedHead, tip, entries } = input;
  const head = verifyHead(signedHead, input.publicKey, input.allianceId, input.keyOwner);
  const headSeq = Number(head.seq);
  if (entries.length > rangeEntriesMax) {
    throw new LimitError(`range of ${entries.length} entries exceeds rangeEntriesMax ${rangeEntriesMax}`);
  }
  if (headSeq < tip.seq) throw new ChainError(`head at seq ${headSeq} is behind the stored log at seq ${tip.seq}`);
  if (tip.seq + entries.length !== headSeq) {
    throw new ChainError(`head at seq ${headSeq} needs ${headSeq - tip.seq} entries after seq ${tip.seq}, got ${entries.length}`);
  }
  if (entries.length === 0) {
    if (!head.entryHash.equals(tip.hash)) throw new ForkError(`two heads at seq ${headSeq} with different entries`, signedHead, []);
    return { head, entries: [] };
  }

  const verified: HashedEntry[] = new Array(entries.length);
  let previous: HashedEntry | undefined;
  // The hot loop of ingest: no per-entry strings (messages are built only on failure).
  for (let i = 0; i < entries.length; i++) {
    const hashed = decodeEntry(entries[i]!, i);
    const { entry } = hashed;
    const seq = tip.seq + 1 + i;
    if (Number(entry.seq) !== seq) throw new ChainError(`entries[${i}]: seq ${entry.seq}, expected ${seq}`);
    if (!equalBytes(entry.author, head.author)) throw new ChainError(`entries[${i}]: author ${toHex(entry.author)} is not the head's author`);
    if (!equalBytes(entry.allianceId, head.allianceId)) throw new ChainError(`entries[${i}]: belongs to another alliance`);
    if (previous) {
      if (!equalBytes(entry.prev, previous.hash)) throw new ChainError(`entries[${i}]: prev does not match the hash of seq ${seq - 1}`);
      if (entry.hlc < previous.entry.hlc) throw new ChainError(`entries[${i}]: hlc goes backwards`);
    }
    verified[i] = hashed;
    previous = hashed;
  }
  const last = previous!;
  if (!last.hash.equals(head.entryHash)) throw new ChainError(`entries do not hash to the head at seq ${headSeq}`);
  if (last.entry.hlc !== head.hlc) throw new ChainError(`head hlc ${head.hlc} differs from its entry's ${last.entry.hlc}`);
  if (tip.seq === 0 && !equalBytes(verified[0]!.entry.prev, zeroHash)) throw new ChainError('entries[0]: seq 1 must have a zero prev');
  if (!equalBytes(verified[0]!.entry.prev, tip.hash)) {
    throw new ForkError(`entry ${tip.seq + 1} does not follow the stored entry ${tip.seq}`, signedHead, verified);
  }
  return { head, entries: verified };
}
