import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import { BackupResponse } from '../../../gen/tongxing/api/v1/api.js';
import { sm3Stream } from '../../../federation/crypto/sm3.js';
import { backupMessageBytesMax } from '../../limits.js';
import { BackupError, BackupTargetError } from './format.js';

// Backup files: the stream framed, with an SM3 checksum of every byte before it at the end.

const fileMagic = Buffer.from('TONGXING BACKUP\n', 'latin1');

/** Writes a backup file: framed messages, hashed as written, then the checksum. Written under a temporary name, renamed by finish(). */
export class BackupFileWriter {
  readonly #file: FileHandle;
  readonly #path: string;
  readonly #partial: string;
  readonly #hash = sm3Stream();
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;
  #bytes = 0;

  private constructor(path: string, partial: string, file: FileHandle) {
    this.#path = path;
    this.#partial = partial;
    this.#file = file;
  }

  /** Refuses (BackupError) an existing `path` unless `overwrite`. */
  static async create(path: string, overwrite = false): Promise<BackupFileWriter> {
    if (!overwrite && (await stat(path).catch(() => undefined)) !== undefined) {
      throw new BackupTargetError(`${path} exists; choose another --out or pass --force to replace it`);
    }
    const partial = `${path}.partial-${randomBytes(4).toString('hex')}`;
    const file = await open(partial, 'wx', 0o600);
    const writer = new BackupFileWriter(path, partial, file);
    await writer.#append(fileMagic, true);
    return writer;
  }

  /** Bytes written so far. */
  get bytes(): number {
    return this.#bytes;
  }

  write(message: BackupResponse): Promise<void> {
    return this.#append(frame(message), true);
  }

  /** Appends the checksum, syncs, and renames the file into place. */
  async finish(): Promise<{ bytes: number; checksum: Buffer }> {
    const checksum = this.#hash.digest();
    await this.#append(frame({ part: { $case: 'checksum', value: checksum } }), false);
    await this.#flush();
    await this.#file.sync();
    await this.#file.close();
    await rename(this.#partial, this.#path);
    return { bytes: this.#bytes, checksum };
  }

  /** Closes and deletes the partial file. */
  async abort(): Promise<void> {
    await this.#file.close().catch(() => undefined);
    await rm(this.#partial, { force: true });
  }

  async #append(bytes: Buffer, hashed: boolean): Promise<void> {
    if (hashed) this.#hash.update(bytes);
    this.#buffered.push(bytes);
    this.#bufferedBytes += bytes.length;
    this.#bytes += bytes.length;
    if (this.#bufferedBytes >= 1024 * 1024) await this.#flush();
  }

  async #flush(): Promise<void> {
    const data = Buffer.concat(this.#buffered);
    this.#buffered = [];
    this.#bufferedBytes = 0;
    await this.#file.write(data);
  }
}

function frame(message: BackupResponse): Buffer {
  const body = BackupResponse.encode(message).finish();
  const length = new BinaryWriter().uint32(body.length).finish();
  return Buffer.concat([length, body]);
}

/**
 * The messages of a backup file, in order, without the checksum. The
 * checksum is checked at the end: a consumer must read to the end (the
 * generator throws BackupError there for a damaged file) before it trusts
 * anything it was given.
 */
export async function* readBackupFile(path: string): AsyncGenerator<BackupResponse> {
  const hash = sm3Stream();
  let buffer: Buffer = Buffer.alloc(0);
  let offset = 0; // of buffer[0] in the file
  let checked = false;
  const stream = createReadStream(path, { highWaterMark: 1024 * 1024 });
  try {
    for await (const piece of stream as AsyncIterable<Buffer>) {
      buffer = buffer.length === 0 ? piece : Buffer.concat([buffer, piece]);
      if (offset === 0) {
        if (buffer.length < fileMagic.length) continue;
        if (!buffer.subarray(0, fileMagic.length).equals(fileMagic)) throw new BackupError(`${path} is not a Tongxing backup file`);
        hash.update(buffer.subarray(0, fileMagic.length));
        buffer = buffer.subarray(fileMagic.length);
        offset = fileMagic.length;
      }
      for (;;) {
        const next = nextFrame(buffer, path, offset);
        if (!next) break;
        const { message, size } = next;
        if (checked) throw new BackupError(`${path}: data after the checksum at byte ${offset}`);
        if (message.part?.$case === 'checksum') {
          if (!hash.digest().equals(message.part.value)) {
            throw new BackupError(`${path}: checksum mismatch: the file was changed or damaged after it was written`);
          }
          checked = true;
        } else {
          hash.update(buffer.subarray(0, size));
          yield message;
        }
        buffer = buffer.subarray(size);
        offset += size;
      }
    }
    if (offset === 0) throw new BackupError(`${path} is not a Tongxing backup file (too short)`);
    if (buffer.length > 0) throw new BackupError(`${path} is truncated: it ends inside a message at byte ${offset}`);
    if (!checked) throw new BackupError(`${path} is truncated: it ends at byte ${offset} without its checksum`);
  } finally {
    stream.destroy();
  }
}

/** One frame at the start of `buffer`, or undefined when more bytes are needed. */
function nextFrame(buffer: Buffer, path: string, offset: number): { message: BackupResponse; size: number } | undefined {
  let length = 0;
  let i = 0;
  for (; ; i++) {
    if (i >= buffer.length) return undefined;
    if (i >= 5) throw new BackupError(`${path}: bad message length at byte ${offset}`);
    const byte = buffer[i]!;
    length += (byte & 0x7f) * 2 ** (7 * i);
    if (byte < 0x80) break;
  }
  // A message of the largest allowed size, plus room for the head that ends a chunk.
  if (length > backupMessageBytesMax + 64 * 1024) {
    throw new BackupError(`${path}: a message of ${length} bytes at byte ${offset}; backupMessageBytesMax is ${backupMessageBytesMax}`);
  }
  const size = i + 1 + length;
  if (buffer.length < size) return undefined;
  try {
    return { message: BackupResponse.decode(new BinaryReader(buffer.subarray(i + 1, size))), size };
  } catch (error) {
    throw new BackupError(`${path}: message at byte ${offset} does not decode: ${(error as Error).message}`);
  }
}
