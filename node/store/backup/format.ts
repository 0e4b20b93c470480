import { TongxingError } from '../../../federation/errors.js';

// What the backup stream and file share: the format version, the errors, and
// where the node-local data sits in the stream (backup.ts describes the format).

export const backupFormatVersion = 1;

/** Node-local primary data in the store's derived-state space (node/store/expert-private.ts). */
export const privateStatePrefix = 'private/';
/**
 * Node-local files that travel with the private state (the audit trail): keys
 * private/~files/NAME/CHUNK, after every key of the store ('~' sorts last),
 * CHUNK a zero-padded index of localFileChunkBytes pieces. Restored as files
 * into the data directory, and only names localFileNamePattern allows: the
 * private state is not signed, so a backup must not name where to write.
 */
export const localFilePrefix = `${privateStatePrefix}~files/`;
export const localFileChunkBytes = 1024 * 1024;
export const localFileNamePattern = /^audit\/audit(-\d+)?\.jsonl$/;

/** A file in the data directory to back up with the private state: `bytes` of it, from the start. */
export interface LocalFile {
  /** Relative to the data directory, e.g. audit/audit.jsonl. */
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
}

export const localFileKey = (name: string, chunk: number) => `${localFilePrefix}${name}/${String(chunk).padStart(6, '0')}`;

/** A backup that cannot be restored (or was not received whole): damaged, tampered with, or not for this alliance. Nothing was written. */
export class BackupError extends TongxingError {
  override name = 'BackupError';
}

/** Where a backup or a restore would write is not usable: the file or a store is there, or a running node holds the store. Nothing was written. */
export class BackupTargetError extends TongxingError {
  override name = 'BackupTargetError';
}
