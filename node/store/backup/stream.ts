import { open } from 'node:fs/promises';
import type { BackupHeader, BackupResponse } from '../../../gen/tongxing/api/v1/api.js';
import { EquivocationProof, SignedHead } from '../../../gen/tongxing/log/v1/log.js';
import { backupMessageBytesMax } from '../../limits.js';
import { proofPrefix } from '../../../federation/store/state-keys.js';
import type { LevelSnapshot } from '../level.js';
import { BackupError, backupFormatVersion, localFileChunkBytes, localFileKey, privateStatePrefix, type LocalFile } from './format.js';

// The node side: one store snapshot as the Backup stream.

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
