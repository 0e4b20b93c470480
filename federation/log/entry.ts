import { LogEntry } from '../../gen/tongxing/log/v1/log.js';
import { sm3 } from '../crypto/sm3.js';
import { EncodingError, LimitError } from '../errors.js';
import { entryBytesMax } from '../limits.js';

/** prev of the first entry of every log. */
export const zeroHash: Buffer = Buffer.alloc(32);

/** An entry with the bytes it travels as and their hash (the bytes are authoritative). */
export interface HashedEntry {
  readonly entry: LogEntry;
  readonly bytes: Uint8Array;
  readonly hash: Buffer;
}

export function encodeEntry(entry: LogEntry): HashedEntry {
  const bytes = LogEntry.encode(entry).finish();
  if (bytes.length > entryBytesMax) {
    throw new LimitError(`entry of ${bytes.length} bytes exceeds entryBytesMax ${entryBytesMax}`);
  }
  return { entry, bytes, hash: sm3(bytes) };
}

/**
 * Entries are hashed exactly as received: the author's signed head commits to
 * these bytes through the chain, so no canonical re-encoding is needed to
 * agree on a hash, and a relay cannot change a byte unnoticed.
 */
export function decodeEntry(bytes: Uint8Array, field = 'entry'): HashedEntry {
  if (bytes.length > entryBytesMax) {
    throw new LimitError(`${field}: ${bytes.length} bytes exceeds entryBytesMax ${entryBytesMax}`);
  }
  let entry: LogEntry;
  try {
    entry = LogEntry.decode(bytes);
  } catch (error) {
    throw new EncodingError(`${field}: not a LogEntry (${(error as Error).message})`);
  }
  return { entry, bytes, hash: sm3(bytes) };
}

export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
