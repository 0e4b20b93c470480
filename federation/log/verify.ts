import type { Head, SignedHead } from '../../gen/tongxing/log/v1/log.js';
import { ChainError, LimitError, ValidationError } from '../errors.js';
import { rangeEntriesMax } from '../limits.js';
import { validateRecord } from '../records/validate.js';
import { decodeEntry, toHex, zeroHash, type HashedEntry } from './entry.js';
import { verifyHead } from './head.js';

export interface VerifyRangeInput {
  readonly allianceId: Uint8Array;
  /** The author's SM2 public key, from the membership. */
  readonly publicKey: Uint8Array;
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
 * head signature by the author, then every entry decoded, in the right
 * alliance, log and position, hash-chained to the next, with a valid record,
 * the last one hashing to the head. One signature covers the whole range.
 *
 * Throws (and the caller stores nothing): ValidationError, EncodingError,
 * SignatureError, LimitError, ChainError; ForkError when the range is
 * authentic but does not extend the stored tip.
 */
export function verifyRange(input: VerifyRangeInput): VerifiedRange {
  const { signedHead, tip, entries } = input;
  const head = verifyHead(signedHead, input.publicKey, input.allianceId);
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
  for (let i = 0; i < entries.length; i++) {
    const field = `entries[${i}]`;
    const hashed = decodeEntry(entries[i]!, field);
    const { entry } = hashed;
    const seq = tip.seq + 1 + i;
    if (entry.seq !== BigInt(seq)) throw new ChainError(`${field}: seq ${entry.seq}, expected ${seq}`);
    if (!entry.author.equals(head.author)) throw new ChainError(`${field}: author ${toHex(entry.author)} is not the head's author`);
    if (!entry.allianceId.equals(head.allianceId)) throw new ChainError(`${field}: belongs to another alliance`);
    if (previous) {
      if (!entry.prev.equals(previous.hash)) throw new ChainError(`${field}: prev does not match the hash of seq ${seq - 1}`);
      if (entry.hlc < previous.entry.hlc) throw new ChainError(`${field}: hlc goes backwards`);
    }
    if (!entry.record) throw new ValidationError(`${field}.record`, 'missing');
    validateRecord(entry.record, `${field}.record`);
    verified[i] = hashed;
    previous = hashed;
  }
  const last = previous!;
  if (!last.hash.equals(head.entryHash)) throw new ChainError(`entries do not hash to the head at seq ${headSeq}`);
  if (last.entry.hlc !== head.hlc) throw new ChainError(`head hlc ${head.hlc} differs from its entry's ${last.entry.hlc}`);
  if (tip.seq === 0 && !verified[0]!.entry.prev.equals(zeroHash)) throw new ChainError('entries[0]: seq 1 must have a zero prev');
  if (!verified[0]!.entry.prev.equals(tip.hash)) {
    throw new ForkError(`entry ${tip.seq + 1} does not follow the stored entry ${tip.seq}`, signedHead, verified);
  }
  return { head, entries: verified };
}
