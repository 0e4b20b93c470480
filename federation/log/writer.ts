import type { SignedHead } from '../../gen/tongxing/log/v1/log.js';
import type { Record } from '../../gen/tongxing/records/v1/records.js';
import { nodeIdOf, type NonceSource, type Sm2KeyPair } from '../crypto/sm2.js';
import { assert, LimitError } from '../errors.js';
import { batchEntriesMax } from '../limits.js';
import { validateRecord } from '../records/validate.js';
import type { StoredEntry } from '../store/store.js';
import { encodeEntry, zeroHash, type HashedEntry } from './entry.js';
import { signHead } from './head.js';
import { hlcObserve, hlcTick } from './hlc.js';

/** Where a log ends: its last seq, that entry's hash and clock (seq 0 for an empty log). */
export interface LogTip {
  readonly seq: number;
  readonly hash: Uint8Array;
  readonly hlc: bigint;
}

export const emptyTip: LogTip = { seq: 0, hash: zeroHash, hlc: 0n };

export interface SealedBatch {
  readonly entries: StoredEntry[];
  readonly hashed: HashedEntry[];
  readonly head: SignedHead;
}

/**
 * The author's side of its own log. Entries are appended in memory and
 * sealed into a batch under ONE signed head; the caller must store the sealed
 * batch durably before announcing the head (and must not append to the log
 * any other way).
 */
export class LogWriter {
  readonly nodeId: string;
  #tip: LogTip;
  #pending: HashedEntry[] = [];
  #clock: bigint;

  constructor(
    private readonly allianceId: Buffer,
    private readonly keyPair: Sm2KeyPair,
    tip: LogTip = emptyTip,
    /** A member keeps the node id of its first key after rotating to a new one. */
    nodeId = nodeIdOf(keyPair.publicKey),
  ) {
    this.nodeId = nodeId;
    this.#tip = tip;
    this.#clock = tip.hlc;
  }

  get tip(): LogTip {
    return this.#tip;
  }

  get pendingCount(): number {
    return this.#pending.length;
  }

  /** Makes the next local entry order after a clock value seen from a peer. */
  observe(hlc: bigint): void {
    this.#clock = hlcObserve(this.#clock, hlc);
  }

  /** Validates and appends one record; throws ValidationError and appends nothing when invalid. */
  append(record: Record, wallMs: number): HashedEntry {
    validateRecord(record);
    if (this.#pending.length >= batchEntriesMax) {
      throw new LimitError(`${this.#pending.length} entries pending: seal before appending more (batchEntriesMax ${batchEntriesMax})`);
    }
    return this.#appendValid(record, wallMs);
  }

  #appendValid(record: Record, wallMs: number): HashedEntry {
    const hlc = hlcTick(this.#clock, wallMs);
    const hashed = encodeEntry({
      allianceId: this.allianceId,
      author: Buffer.from(this.nodeId, 'hex'),
      seq: BigInt(this.#tip.seq + 1),
      prev: Buffer.from(this.#tip.hash),
      hlc,
      record,
    });
    this.#clock = hlc;
    this.#pending.push(hashed);
    this.#tip = { seq: this.#tip.seq + 1, hash: hashed.hash, hlc };
    return hashed;
  }

  /**
   * Appends and seals `records` as consecutive batches of at most
   * batchEntriesMax entries, each under its own head, for the caller to store
   * in ONE atomic commit (an import: all of it or none). Nothing may be
   * pending. All or nothing here too: a record that is invalid (ValidationError
   * naming `records[i]`) or too large leaves the writer as it was.
   */
  sealAll(records: readonly Record[], wallMs: number, nonces?: NonceSource): SealedBatch[] {
    assert(this.#pending.length === 0, 'sealAll with entries pending');
    records.forEach((record, i) => validateRecord(record, `records[${i}]`));
    const [tip, clock] = [this.#tip, this.#clock];
    const batches: SealedBatch[] = [];
    try {
      for (let from = 0; from < records.length; from += batchEntriesMax) {
        for (const record of records.slice(from, from + batchEntriesMax)) this.#appendValid(record, wallMs);
        batches.push(this.seal(wallMs, nonces)!);
      }
    } catch (error) {
      [this.#tip, this.#clock, this.#pending] = [tip, clock, []];
      throw error;
    }
    return batches;
  }

  /** Signs one head over everything appended since the last seal; undefined when nothing is pending. */
  seal(wallMs: number, nonces?: NonceSource): SealedBatch | undefined {
    if (this.#pending.length === 0) return undefined;
    const hashed = this.#pending;
    this.#pending = [];
    const first = Number(hashed[0]!.entry.seq);
    assert(first + hashed.length - 1 === this.#tip.seq, 'pending entries end at the tip');
    const entries = hashed.map((h, i) => ({ author: this.nodeId, seq: first + i, bytes: h.bytes }));
    return { entries, hashed, head: this.signTip(wallMs, nonces) };
  }

  /**
   * Re-signs the current (sealed) tip with a new signing time: a liveness
   * beacon that tells readers the log still ends here (at seq 0 for a log
   * with no entries yet). Nothing may be pending.
   */
  resign(wallMs: number, nonces?: NonceSource): SignedHead {
    assert(this.#pending.length === 0, 'resign with entries pending');
    return this.signTip(wallMs, nonces);
  }

  private signTip(wallMs: number, nonces?: NonceSource): SignedHead {
    return signHead(
      {
        allianceId: this.allianceId,
        author: Buffer.from(this.nodeId, 'hex'),
        seq: BigInt(this.#tip.seq),
        entryHash: Buffer.from(this.#tip.hash),
        hlc: this.#tip.hlc,
        signedAtMs: BigInt(wallMs),
      },
      this.keyPair,
      nonces,
    );
  }
}
