import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Level } from 'level';
import type { BackupHeader } from '../../../gen/tongxing/api/v1/api.js';
import { EquivocationProof } from '../../../gen/tongxing/log/v1/log.js';
import { toHex } from '../../../federation/log/entry.js';
import { proofKey, viewsRebuildKey } from '../../../federation/store/state-keys.js';
import { LevelStore } from '../level.js';
import { readBackupFile } from './file.js';
import { BackupError, BackupTargetError, localFileNamePattern, localFilePrefix } from './format.js';
import { verifyBackup, verifyBackupFile, type BackupTrust, type BackupTrustSource } from './verify.js';

// Restoring a backup file into a stopped node's data directory: verified whole first, then written.

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
