import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { LogEntry } from '../../gen/tongxing/log/v1/log.js';
import { Record } from '../../gen/tongxing/records/v1/records.js';
import { sm3 } from '../crypto/sm3.js';
import { EncodingError, LimitError } from '../errors.js';
import { entryBytesMax } from '../limits.js';

/** prev of the first entry of every log. */
export const zeroHash: Buffer = Buffer.alloc(32);

/**
 * A LogEntry's envelope, read without decoding its record: verifying a
 * chain needs only these fields, so ingest does not pay for record decoding
 * twice. The buffers are views into the entry's bytes (no copies).
 */
export interface EntryEnvelope {
  readonly allianceId: Uint8Array;
  readonly author: Uint8Array;
  readonly seq: bigint;
  readonly prev: Uint8Array;
  readonly hlc: bigint;
  /** The encoded Record (empty when absent). */
  readonly recordBytes: Uint8Array;
}

/** An entry with the bytes it travels as and their hash (the bytes are authoritative). */
export interface HashedEntry {
  readonly entry: EntryEnvelope;
  readonly bytes: Uint8Array;
  readonly hash: Buffer;
}

const empty: Uint8Array = new Uint8Array(0);

/** Byte equality without allocating (native memcmp). */
export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.compare(a, b) === 0;

function readEnvelope(bytes: Uint8Array): EntryEnvelope {
  const reader = new BinaryReader(bytes);
  let allianceId = empty;
  let author = empty;
  let prev = empty;
  let seq = 0n;
  let hlc = 0n;
  let recordBytes = empty;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) allianceId = reader.bytes();
    else if (field === 2 && wireType === WireType.LengthDelimited) author = reader.bytes();
    else if (field === 3 && wireType === WireType.Varint) seq = BigInt(reader.uint64());
    else if (field === 4 && wireType === WireType.LengthDelimited) prev = reader.bytes();
    else if (field === 5 && wireType === WireType.Varint) hlc = BigInt(reader.uint64());
    else if (field === 6 && wireType === WireType.LengthDelimited) recordBytes = reader.bytes();
    else reader.skip(wireType, field);
  }
  return { allianceId, author, seq, prev, hlc, recordBytes };
}

export function encodeEntry(entry: LogEntry): HashedEntry {
  const bytes = LogEntry.encode(entry).finish();
  if (bytes.length > entryBytesMax) {
    throw new LimitError(`entry of ${bytes.length} bytes exceeds entryBytesMax ${entryBytesMax}`);
  }
  return { entry: readEnvelope(bytes), bytes, hash: sm3(bytes) };
}

/**
 * Entries are hashed exactly as received: the author's signed head commits to
 * these bytes through the chain, so no canonical re-encoding is needed to
 * agree on a hash, and a relay cannot change a byte unnoticed. `field` names
 * the entry in errors (a number i: `entries[i]`).
 */
export function decodeEntry(bytes: Uint8Array, field: string | number = 'entry'): HashedEntry {
  if (bytes.length > entryBytesMax) {
    throw new LimitError(`${entryName(field)}: ${bytes.length} bytes exceeds entryBytesMax ${entryBytesMax}`);
  }
  let entry: EntryEnvelope;
  try {
    entry = readEnvelope(bytes);
  } catch (error) {
    throw new EncodingError(`${entryName(field)}: not a LogEntry (${(error as Error).message})`);
  }
  return { entry, bytes, hash: sm3(bytes) };
}

const entryName = (field: string | number): string => (typeof field === 'number' ? `entries[${field}]` : field);

/** The entry's record; throws EncodingError when its bytes are not a Record. */
export function decodeRecord(entry: EntryEnvelope, field = 'record'): Record {
  try {
    return Record.decode(entry.recordBytes);
  } catch (error) {
    throw new EncodingError(`${field}: not a Record (${(error as Error).message})`);
  }
}

export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
