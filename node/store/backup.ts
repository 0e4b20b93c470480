import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import { Level } from 'level';
import { BackupResponse, type BackupHeader, type BackupRequest } from '../../gen/tongxing/api/v1/api.js';
import { EquivocationProof, SignedHead } from '../../gen/tongxing/log/v1/log.js';
import { sign, verify, type Sm2KeyPair } from '../../federation/crypto/sm2.js';
import { sm3Stream } from '../../federation/crypto/sm3.js';
import { SignatureError, TongxingError, ValidationError } from '../../federation/errors.js';
import { backupMessageBytesMax, credentialAgeMsMax, rangeEntriesMax } from '../../federation/limits.js';
import type { GovRecord } from '../../federation/governance/state.js';
import { decodeRecord, toHex, zeroHash, type HashedEntry } from '../../federation/log/entry.js';
import { verifyProof } from '../../federation/log/equivocation.js';
import { verifyRange } from '../../federation/log/verify.js';
import { verifyWithKeys } from '../../federation/log/signer.js';
import { proofKey, proofPrefix, viewsRebuildKey } from '../../federation/store/state-keys.js';
import type { StoredEntry } from '../../federation/store/store.js';
import { LevelStore, type LevelSnapshot } from './level.js';

// Backups of a node's store, and restoring one into an empty data directory.
//
// What is backed up is what cannot be recomputed: every author's log (entries
// and the signed heads stored at batch boundaries), the equivocation proofs,
// and the node's private state (derived-state keys under private/: data in no
// log, e.g. experts' personal records). Views are derived and are rebuilt from
// the logs when the restored node first opens its store: a restored store
// answers only from data that verified, whatever a backup file says about
// views. Private state cannot be verified (nobody signed it): it is restored
// as is, under the checksum, and only into the node it was taken from.
//
// The stream a node sends (NodeService.Backup, proto/tongxing/api/v1/api.proto):
//   header, chunks author by author (each ends on a stored head), proofs,
//   private state, trailer.
// A file is that stream, framed, with an SM3 checksum at the end:
//   "TONGXING BACKUP\n"  then per message: varint length, BackupResponse bytes;
//   last: a BackupResponse whose part is `checksum`: SM3 of every byte before it.
// docs/OPERATIONS.md describes both for operators.

export const backupFormatVersion = 1;
const fileMagic = Buffer.from('TONGXING BACKUP\n', 'latin1');

/** Node-local primary data in the store's derived-state space (node/store/expert-private.ts). */
const privateStatePrefix = 'private/';
/**
 * Node-local files that travel with the private state (the audit trail): keys
 * private/~files/NAME/CHUNK, after every key of the store ('~' sorts last),
 * CHUNK a zero-padded index of localFileChunkBytes pieces. Restored as files
 * into the data directory, and only names localFileNamePattern allows: the
 * private state is not signed, so a backup must not name where to write.
 */
const localFilePrefix = `${privateStatePrefix}~files/`;
const localFileChunkBytes = 1024 * 1024;
const localFileNamePattern = /^audit\/audit(-\d+)?\.jsonl$/;

/** A file in the data directory to back up with the private state: `bytes` of it, from the start. */
export interface LocalFile {
  /** Relative to the data directory, e.g. audit/audit.jsonl. */
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
}

const localFileKey = (name: string, chunk: number) => `${localFilePrefix}${name}/${String(chunk).padStart(6, '0')}`;

/** A backup that cannot be restored (or was not received whole): damaged, tampered with, or not for this alliance. Nothing was written. */
export class BackupError extends TongxingError {
  override name = 'BackupError';
}

/** Where a backup or a restore would write is not usable: the file or a store is there, or a running node holds the store. Nothing was written. */
export class BackupTargetError extends TongxingError {
  override name = 'BackupTargetError';
}

// ---- the node side: a snapshot as a stream ----

/** What a private backup request signs: domain, alliance, the node backed up, the time. */
export function backupRequestBytes(allianceId: Uint8Array, nodeId: string, atMs: bigint): Buffer {
  const at = Buffer.alloc(8);
  at.writeBigInt64BE(atMs);
  return Buffer.concat([Buffer.from('tongxing backup v1\0'), Buffer.from(allianceId), Buffer.from(nodeId, 'hex'), at]);
}

/** A request for a backup with the node's private state, signed with the node's own key. */
export function signBackupRequest(keyPair: Sm2KeyPair, allianceId: Uint8Array, nodeId: string, nowMs: number): BackupRequest {
  const atMs = BigInt(nowMs);
  return { atMs, signature: sign(keyPair.privateKey, backupRequestBytes(allianceId, nodeId, atMs), keyPair.publicKey) };
}

/**
 * Whether a backup request may have the private state: signed, recently,
 * with `nodeKey` (the node's own current key). Unsigned: no. Signed but
 * wrong or stale: ValidationError naming the field (the caller meant to).
 */
export function privateBackupAllowed(request: BackupRequest, init: { allianceId: Uint8Array; nodeId: string; nodeKey: Uint8Array | undefined; nowMs: number }): boolean {
  if (request.signature.length === 0) return false;
  const skewMs = Math.abs(init.nowMs - Number(request.atMs));
  if (!(skewMs <= credentialAgeMsMax)) {
    throw new ValidationError('atMs', `signed ${skewMs} ms away from this node's clock; credentialAgeMsMax is ${credentialAgeMsMax}`);
  }
  let valid = false;
  try {
    valid = init.nodeKey !== undefined && verify(init.nodeKey, backupRequestBytes(init.allianceId, init.nodeId, request.atMs), request.signature);
  } catch {
    valid = false; // a malformed signature: as wrong as a wrong one
  }
  if (!valid) throw new ValidationError('signature', "does not verify under this node's key: only the node's own key may take its private state");
  return true;
}

export interface BackupStreamInit {
  /** With the node's private state (see privateBackupAllowed). */
  readonly includePrivate: boolean;
  readonly allianceId: Uint8Array;
  /** Hex node id of the node backed up. */
  readonly nodeId: string;
  readonly nowMs: () => number;
  /** Proofs read at most (one per member can exist). */
  readonly proofsMax: number;
  /** Largest message; default backupMessageBytesMax. */
  readonly messageBytesMax?: number;
  /** Files that go with the private state (the audit trail), when it is included. */
  readonly localFiles?: () => readonly LocalFile[];
}

/** Length-delimited field overhead in protobuf: the tag byte and the length varint. */
function fieldBytes(length: number): number {
  return 1 + (length < 0x80 ? 1 : length < 0x4000 ? 2 : length < 0x200000 ? 3 : length < 0x10000000 ? 4 : 5) + length;
}

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/**
 * The backup stream of one store snapshot; closes the snapshot when the
 * stream ends or is abandoned. Messages stay under messageBytesMax (a chunk's
 * entries are split across messages, the head riding on the last).
 */
export async function* backupStream(snapshot: LevelSnapshot, init: BackupStreamInit): AsyncGenerator<BackupResponse> {
  const messageBytesMax = init.messageBytesMax ?? backupMessageBytesMax;
  try {
    const logs = await snapshot.logs();
    const proofs = await snapshot.stateRange(proofPrefix, init.proofsMax);
    const files = init.includePrivate ? (init.localFiles?.() ?? []) : [];
    const fileChunks = files.reduce((sum, f) => sum + Math.ceil(f.bytes / localFileChunkBytes), 0);
    const privateStates = init.includePrivate ? (await snapshot.stateCount(privateStatePrefix)) + fileChunks : 0;
    const header: BackupHeader = {
      formatVersion: backupFormatVersion,
      allianceId: asBuffer(init.allianceId),
      nodeId: Buffer.from(init.nodeId, 'hex'),
      createdAtMs: BigInt(init.nowMs()),
      logs: logs.map((l) => ({ author: Buffer.from(l.author, 'hex'), entries: BigInt(l.seq) })),
      proofs: proofs.length,
      privateStates: BigInt(privateStates),
      privateStateIncluded: init.includePrivate,
    };
    yield { part: { $case: 'header', value: header } };
    let chunks = 0;
    let entries = 0;
    for (const log of logs) {
      let pending: Buffer[] = [];
      let bytes = 0;
      for await (const item of snapshot.log(log.author, log.seq)) {
        const size = fieldBytes(item.bytes.length);
        if (pending.length > 0 && bytes + size > messageBytesMax) {
          yield { part: { $case: 'chunk', value: { entries: pending, head: undefined } } };
          pending = [];
          bytes = 0;
        }
        if (item.kind === 'entry') {
          pending.push(asBuffer(item.bytes));
          bytes += size;
          entries++;
        } else {
          yield { part: { $case: 'chunk', value: { entries: pending, head: SignedHead.decode(item.bytes) } } };
          chunks++;
          pending = [];
          bytes = 0;
        }
      }
    }
    for (const [, bytes] of proofs) yield { part: { $case: 'proof', value: EquivocationProof.decode(bytes) } };
    let states = 0;
    for await (const [key, value] of init.includePrivate ? snapshot.state(privateStatePrefix) : []) {
      if (++states > privateStates - fileChunks) break; // the count was taken from the same snapshot: cannot happen
      yield { part: { $case: 'privateState', value: { key, value: asBuffer(value) } } };
    }
    for (const file of [...files].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const handle = await open(file.path, 'r');
      try {
        for (let chunk = 0; chunk * localFileChunkBytes < file.bytes; chunk++) {
          const length = Math.min(localFileChunkBytes, file.bytes - chunk * localFileChunkBytes);
          const buffer = Buffer.alloc(length);
          const { bytesRead } = await handle.read(buffer, 0, length, chunk * localFileChunkBytes);
          if (bytesRead !== length) throw new BackupError(`${file.name} shrank while it was backed up`);
          yield { part: { $case: 'privateState', value: { key: localFileKey(file.name, chunk), value: buffer } } };
        }
      } finally {
        await handle.close();
      }
    }
    yield { part: { $case: 'trailer', value: { chunks: BigInt(chunks), entries: BigInt(entries) } } };
  } finally {
    await snapshot.close();
  }
}

// ---- files ----

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

// ---- verification ----

/** What a backup is checked against: the alliance and its members' keys, as this node's configuration knows them. */
export interface BackupTrust {
  readonly allianceId: Uint8Array;
  /** Keys that may have signed `nodeId`'s heads at `hlc`, current first; empty for a non-member. */
  keysFor(nodeId: string, hlc: bigint): Uint8Array[];
  /** For messages: "Kunming (3f2a…)". */
  describe(nodeId: string): string;
}

/**
 * Where the trust comes from. Under governance the members are the genesis
 * founders plus whoever the governance records admitted (and with rotated
 * keys): `trustFor` is asked again with the governance records of the logs
 * verified so far, until every log verifies or no more can.
 */
export interface BackupTrustSource {
  readonly allianceId: Uint8Array;
  trustFor(records: readonly GovRecord[]): BackupTrust;
}

/** A trust that governance records do not change (a fixed membership). */
export const fixedTrust = (trust: BackupTrust): BackupTrustSource => ({ allianceId: trust.allianceId, trustFor: () => trust });

export type VerifiedBackupItem =
  | { readonly kind: 'header'; readonly header: BackupHeader; readonly entries: number }
  | { readonly kind: 'chunk'; readonly author: string; readonly entries: StoredEntry[]; readonly hashed: readonly HashedEntry[]; readonly head: SignedHead }
  | { readonly kind: 'proof'; readonly author: string; readonly proof: EquivocationProof }
  | { readonly kind: 'private'; readonly key: string; readonly value: Uint8Array };

export interface VerifyBackupOptions {
  /**
   * Logs whose author has no key here, or whose chunk a key here does not
   * sign, are not an error but left out (not yielded), with the reason in
   * `unverified`; everything else is checked as strictly. For finding the
   * trust under governance.
   */
  readonly lenient?: { readonly unverified: Map<string, string> };
}

/** The chunk is authentic as far as the data goes, but no key this trust knows signed it. */
class UntrustedError extends BackupError {}

/**
 * Checks a backup stream while passing it on: the header first and for this
 * alliance, every author a member, every chunk a hash chain from the
 * previous one up to a head its author signed (verifyRange, the check every
 * pull gets), every log complete, every proof valid, counts as the header
 * and trailer say. Throws BackupError at the first thing that is wrong.
 */
export async function* verifyBackup(messages: AsyncIterable<BackupResponse>, trust: BackupTrust, options: VerifyBackupOptions = {}): AsyncGenerator<VerifiedBackupItem> {
  const unverified = options.lenient?.unverified;
  let header: BackupHeader | undefined;
  let logIndex = 0;
  let tip = { seq: 0, hash: zeroHash as Uint8Array };
  let pending: Buffer[] = [];
  let chunks = 0;
  let entries = 0;
  const proofAuthors = new Set<string>();
  let privateStates = 0;
  let lastPrivateKey = '';
  let trailer = false;
  const authorAt = (i: number): string => toHex(header!.logs[i]!.author);

  for await (const message of messages) {
    const part = message.part;
    if (trailer) throw new BackupError('a message after the trailer');
    if (!header) {
      if (part?.$case !== 'header') throw new BackupError('the backup does not start with its header');
      header = part.value;
      if (header.formatVersion !== backupFormatVersion) {
        throw new BackupError(`backup format version ${header.formatVersion}; this build reads version ${backupFormatVersion}`);
      }
      if (!Buffer.from(header.allianceId).equals(Buffer.from(trust.allianceId))) {
        throw new BackupError(`the backup is of alliance ${toHex(header.allianceId).slice(0, 16)}…, this node's alliance is ${toHex(trust.allianceId).slice(0, 16)}…`);
      }
      let total = 0;
      for (const [i, log] of header.logs.entries()) {
        const author = toHex(log.author);
        if (i > 0 && author <= authorAt(i - 1)) throw new BackupError(`header.logs[${i}]: authors are not in ascending order`);
        if (log.entries < 1n || log.entries > BigInt(Number.MAX_SAFE_INTEGER)) throw new BackupError(`header.logs[${i}].entries: ${log.entries} is out of range`);
        if (trust.keysFor(author, 0n).length === 0) {
          const reason = `${author.slice(0, 12)} is not a member of this alliance`;
          if (!unverified) throw new BackupError(`header.logs[${i}]: ${reason}`);
          unverified.set(author, reason);
        }
        total += Number(log.entries);
      }
      yield { kind: 'header', header, entries: total };
      continue;
    }
    switch (part?.$case) {
      case 'chunk': {
        if (proofAuthors.size > 0 || privateStates > 0) throw new BackupError('a chunk after the proofs or private state');
        pending.push(...part.value.entries);
        if (pending.length > rangeEntriesMax) throw new BackupError(`a chunk of more than rangeEntriesMax (${rangeEntriesMax}) entries`);
        const signed = part.value.head;
        if (!signed) continue;
        const author = toHex(signed.head?.author ?? Buffer.alloc(0));
        // The log in hand is complete: the next chunk starts the next author's.
        while (logIndex < header.logs.length && tip.seq === Number(header.logs[logIndex]!.entries) && author !== authorAt(logIndex)) {
          logIndex++;
          tip = { seq: 0, hash: zeroHash };
        }
        if (logIndex >= header.logs.length || author !== authorAt(logIndex)) {
          const expected = logIndex < header.logs.length ? trust.describe(authorAt(logIndex)) : 'no more logs';
          throw new BackupError(`a chunk of ${trust.describe(author)} where the header has ${expected} after seq ${tip.seq}`);
        }
        const range = `${trust.describe(author)}: entries ${tip.seq + 1}..${tip.seq + pending.length}`;
        const headSeq = Number(signed.head!.seq);
        if (headSeq > Number(header.logs[logIndex]!.entries)) throw new BackupError(`${range}: beyond the ${header.logs[logIndex]!.entries} entries the header lists`);
        let verified: ReturnType<typeof verifySigned> | undefined;
        if (!unverified?.has(author)) {
          try {
            verified = verifySigned(signed, tip, pending, author, trust, range);
          } catch (error) {
            if (!(error instanceof UntrustedError) || !unverified) throw error;
            unverified.set(author, error.message);
          }
        }
        chunks++;
        entries += pending.length;
        if (verified) {
          const stored = verified.entries.map((e) => ({ author, seq: Number(e.entry.seq), bytes: e.bytes }));
          yield { kind: 'chunk', author, entries: stored, hashed: verified.entries, head: signed };
          tip = { seq: headSeq, hash: verified.head.entryHash };
        } else {
          // Left out: only the shape is followed (the author's chunks in order, up to its count).
          if (headSeq !== tip.seq + pending.length) throw new BackupError(`${range}: a head at seq ${headSeq}`);
          tip = { seq: headSeq, hash: signed.head!.entryHash };
        }
        pending = [];
        break;
      }
      case 'proof': {
        if (pending.length > 0) throw new BackupError('entries without a head before the proofs');
        if (privateStates > 0) throw new BackupError('a proof after the private state');
        const proof = part.value;
        const author = toHex(proof.first?.head?.author ?? Buffer.alloc(0));
        if (proofAuthors.has(author)) throw new BackupError(`two equivocation proofs about ${trust.describe(author)}`);
        proofAuthors.add(author);
        const [key] = trust.keysFor(author, 0n);
        if (!key) {
          const reason = `an equivocation proof about ${author.slice(0, 12) || 'nobody'}, not a member`;
          if (!unverified) throw new BackupError(reason);
          unverified.set(author, reason);
          break;
        }
        try {
          verifyProof(proof, key, trust.allianceId);
        } catch (error) {
          throw new BackupError(`the equivocation proof about ${trust.describe(author)} does not verify: ${(error as Error).message}`);
        }
        yield { kind: 'proof', author, proof };
        break;
      }
      case 'privateState': {
        if (pending.length > 0) throw new BackupError('entries without a head before the private state');
        const { key, value } = part.value;
        if (!key.startsWith(privateStatePrefix) || key <= lastPrivateKey) throw new BackupError(`private state key ${JSON.stringify(key.slice(0, 80))} is not under ${privateStatePrefix} in ascending order`);
        if (++privateStates > header.privateStates) throw new BackupError(`more private state than the ${header.privateStates} keys the header lists`);
        lastPrivateKey = key;
        yield { kind: 'private', key, value };
        break;
      }
      case 'trailer': {
        if (pending.length > 0) throw new BackupError(`${pending.length} entries without a head at the end`);
        if (BigInt(privateStates) !== header.privateStates) throw new BackupError(`${privateStates} private state keys; the header lists ${header.privateStates}`);
        const complete = logIndex === header.logs.length || (logIndex === header.logs.length - 1 && tip.seq === Number(header.logs[logIndex]!.entries));
        if (!complete) {
          const author = logIndex < header.logs.length ? trust.describe(authorAt(logIndex)) : '';
          throw new BackupError(`the backup ends before its logs do: ${author} at seq ${tip.seq} of ${header.logs[logIndex]?.entries}`);
        }
        if (proofAuthors.size !== header.proofs) throw new BackupError(`${proofAuthors.size} equivocation proofs; the header lists ${header.proofs}`);
        if (part.value.chunks !== BigInt(chunks) || part.value.entries !== BigInt(entries)) {
          throw new BackupError(`the trailer counts ${part.value.chunks} chunks and ${part.value.entries} entries; the backup holds ${chunks} and ${entries}`);
        }
        trailer = true;
        break;
      }
      default:
        throw new BackupError(`an unexpected ${part?.$case ?? 'empty'} message`);
    }
  }
  if (!header) throw new BackupError('the backup is empty');
  if (!trailer) throw new BackupError('the backup ends without its trailer: the stream was cut short');
}

/** verifyRange with the author's current key, then its retired ones (log/signer.ts, as the replica does). */
function verifySigned(signed: SignedHead, tip: { seq: number; hash: Uint8Array }, entries: Buffer[], author: string, trust: BackupTrust, range: string) {
  const keys = trust.keysFor(author, signed.head?.hlc ?? 0n);
  if (keys.length === 0) throw new UntrustedError(`${range}: ${author.slice(0, 12)} is not a member of this alliance`);
  try {
    return verifyWithKeys(keys, (publicKey) => verifyRange({ allianceId: trust.allianceId, publicKey, signedHead: signed, tip, entries })).result;
  } catch (error) {
    const message = `${range}: ${(error as Error).message}`;
    throw error instanceof SignatureError ? new UntrustedError(message) : new BackupError(message);
  }
}

/** The governance records among verified entries (what can change the trust). */
function governanceRecords(author: string, hashed: readonly HashedEntry[]): GovRecord[] {
  const found: GovRecord[] = [];
  for (const { entry, hash } of hashed) {
    let kind;
    try {
      kind = decodeRecord(entry).kind;
    } catch {
      continue; // an undecodable record is no governance record (views reject it)
    }
    if (kind?.$case === 'governanceProposal' || kind?.$case === 'governanceApproval') {
      found.push({ author, seq: Number(entry.seq), hlc: entry.hlc, hash: hash.toString('hex'), record: kind });
    }
  }
  return found;
}

/**
 * Verifies a whole backup file and returns the trust it verified under: the
 * trust is widened by the governance records of the logs verified with it
 * until every log verifies (or a strict pass names what does not).
 */
export async function verifyBackupFile(file: string, source: BackupTrustSource, onProgress?: (done: number, total: number) => void): Promise<BackupTrust> {
  let records: GovRecord[] = [];
  for (;;) {
    const trust = source.trustFor(records);
    const unverified = new Map<string, string>();
    const found: GovRecord[] = [];
    let total = 0;
    let done = 0;
    for await (const item of verifyBackup(readBackupFile(file), trust, { lenient: { unverified } })) {
      if (item.kind === 'header') total = item.entries;
      else if (item.kind === 'chunk') {
        found.push(...governanceRecords(item.author, item.hashed));
        onProgress?.((done += item.entries.length), total);
      }
    }
    if (unverified.size === 0) return trust;
    if (found.length <= records.length) {
      // No new governance records: nothing more can verify. A strict pass says what fails and where.
      for await (const _ of verifyBackup(readBackupFile(file), trust)); // eslint-disable-line @typescript-eslint/no-unused-vars
      throw new BackupError([...unverified.values()][0]!);
    }
    records = found;
  }
}

// ---- restore ----

export interface RestoreInit {
  readonly file: string;
  /** The node's dataDir: the store goes to <dataDir>/store. */
  readonly dataDir: string;
  readonly trust: BackupTrustSource;
  /** Replace a store that is there (the node must be stopped). */
  readonly force?: boolean;
  /**
   * Whether the data directory is the node the backup was taken on (asked
   * once the backup verified). Only then is its private state restored:
   * another node's salt and seeds are not this node's. Default: no.
   */
  readonly isOwnBackup?: (backedUp: string, trust: BackupTrust) => boolean;
  /** After each chunk: phase, entries done, entries in the backup. */
  readonly onProgress?: (phase: 'verify' | 'write', done: number, total: number) => void;
}

export interface RestoreSummary {
  readonly header: BackupHeader;
  readonly entries: number;
  readonly chunks: number;
  readonly proofs: number;
  /** Private state keys written, and left out (a backup of another node). */
  readonly privateStates: { readonly restored: number; readonly skipped: number };
  readonly storeDirectory: string;
  /** The trust the backup verified under (members as of its governance records). */
  readonly trust: BackupTrust;
}

/**
 * Restores a backup file into `<dataDir>/store`. The whole file is verified
 * first (checksum, signatures, chains, counts); only then is anything
 * written, into a new directory beside the store that replaces it when
 * complete: a failure at any point leaves the data directory as it was.
 * Refuses (BackupTargetError) a store that is there unless `force`, and a
 * store a running node holds open even then.
 */
export async function restoreBackup(init: RestoreInit): Promise<RestoreSummary> {
  const storeDirectory = join(init.dataDir, 'store');
  const existing = await stat(storeDirectory).catch(() => undefined);
  if (existing && !existing.isDirectory()) throw new BackupTargetError(`${storeDirectory} is not a directory`);
  if (existing && (await readdir(storeDirectory)).length > 0) {
    if (!init.force) throw new BackupTargetError(`${storeDirectory} holds a store; stop its node and pass --force to replace it`);
    await assertNotOpen(storeDirectory);
  }

  // Pass 1: verify everything, write nothing.
  const trust = await verifyBackupFile(init.file, init.trust, (done, total) => init.onProgress?.('verify', done, total));

  // Pass 2: the same checks again (the file could change in between) while writing a new store.
  await mkdir(init.dataDir, { recursive: true });
  const building = join(init.dataDir, `store.restoring-${randomBytes(4).toString('hex')}`);
  let store: LevelStore | undefined = await LevelStore.open(building, { sync: false });
  // Local files (the audit trail) are written beside the new store and moved in with it.
  const filesDirectory = join(init.dataDir, `files.restoring-${randomBytes(4).toString('hex')}`);
  const restoredFiles = new Set<string>();
  try {
    let header: BackupHeader | undefined;
    let total = 0;
    let done = 0;
    let chunks = 0;
    const proofs: EquivocationProof[] = [];
    const privateStates = { restored: 0, skipped: 0 };
    let privateBatch: Array<{ key: string; value: Uint8Array }> = [];
    let own: boolean | undefined;
    const flushPrivate = async (): Promise<void> => {
      if (privateBatch.length > 0) await store!.commit({ entries: [], heads: [], state: privateBatch, durable: false });
      privateBatch = [];
    };
    for await (const item of verifyBackup(readBackupFile(init.file), trust)) {
      if (item.kind === 'header') {
        header = item.header;
        total = item.entries;
      } else if (item.kind === 'proof') proofs.push(item.proof);
      else if (item.kind === 'private') {
        own ??= init.isOwnBackup?.(toHex(header!.nodeId), trust) ?? false;
        if (!own) {
          privateStates.skipped++;
          continue;
        }
        if (item.key.startsWith(localFilePrefix)) {
          const name = item.key.slice(localFilePrefix.length).replace(/\/\d{6}$/, '');
          if (!localFileNamePattern.test(name)) throw new BackupError(`the backup holds a local file named ${JSON.stringify(name.slice(0, 80))}: only the audit trail's files are restored`);
          await mkdir(join(filesDirectory, dirname(name)), { recursive: true });
          await appendFile(join(filesDirectory, name), item.value, { mode: 0o600 });
          restoredFiles.add(name);
          privateStates.restored++;
          continue;
        }
        privateBatch.push({ key: item.key, value: item.value });
        privateStates.restored++;
        if (privateBatch.length >= 1000) await flushPrivate();
      } else {
        await store.commit({ entries: item.entries, heads: [item.head], state: [], durable: false });
        done += item.entries.length;
        chunks++;
        init.onProgress?.('write', done, total);
      }
    }
    await flushPrivate();
    await store.commit({
      entries: [],
      heads: [],
      state: [
        ...proofs.map((proof) => ({ key: proofKey(toHex(proof.first!.head!.author)), value: EquivocationProof.encode(proof).finish() })),
        { key: viewsRebuildKey, value: new Uint8Array(0) },
      ],
      durable: true,
    });
    await store.close();
    store = undefined;
    if (existing) {
      const replaced = `${storeDirectory}.replaced-${randomBytes(4).toString('hex')}`;
      await rename(storeDirectory, replaced);
      await rename(building, storeDirectory);
      await rm(replaced, { recursive: true, force: true });
    } else {
      await rename(building, storeDirectory);
    }
    // The audit trail as it was backed up replaces the one here (a restore into a used directory is --force).
    for (const directory of new Set([...restoredFiles].map((name) => dirname(name)))) {
      await rm(join(init.dataDir, directory), { recursive: true, force: true });
      await rename(join(filesDirectory, directory), join(init.dataDir, directory));
    }
    await rm(filesDirectory, { recursive: true, force: true });
    return { header: header!, entries: done, chunks, proofs: proofs.length, privateStates, storeDirectory, trust };
  } catch (error) {
    await store?.close().catch(() => undefined);
    await rm(building, { recursive: true, force: true });
    await rm(filesDirectory, { recursive: true, force: true });
    throw error;
  }
}

/** LevelDB's lock: a store a running node holds cannot be opened a second time. */
async function assertNotOpen(directory: string): Promise<void> {
  const db = new Level(directory);
  try {
    await db.open({ createIfMissing: false });
  } catch (error) {
    const code = (error as { code?: string; cause?: { code?: string } }).cause?.code ?? (error as { code?: string }).code;
    if (code === 'LEVEL_LOCKED') throw new BackupTargetError(`${directory} is open in a running node; stop it first`);
    throw new BackupTargetError(`${directory} cannot be opened to check it is not in use: ${(error as Error).message}`);
  }
  await db.close();
}
