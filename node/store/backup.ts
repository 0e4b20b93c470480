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

//
// The parts: backup/format.ts (version, errors, where node-local data goes),
// backup/request.ts (who may take the private state), backup/stream.ts (a
// snapshot as the stream), backup/file.ts (files), backup/verify.ts,
// backup/restore.ts. This module is their public entry point.

export { BackupError, BackupTargetError, type LocalFile } from './backup/format.js';
export { privateBackupAllowed, signBackupRequest } from './backup/request.js';
export { backupStream, type BackupStreamInit } from './backup/stream.js';
export { BackupFileWriter, readBackupFile } from './backup/file.js';
export { verifyBackup, verifyBackupFile, type BackupTrust, type BackupTrustSource, type VerifiedBackupItem, type VerifyBackupOptions } from './backup/verify.js';
export { restoreBackup, type RestoreInit, type RestoreSummary } from './backup/restore.js';
