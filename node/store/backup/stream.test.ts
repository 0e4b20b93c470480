import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BackupResponse } from '../../../gen/tongxing/api/v1/api.js';
import { LogWriter } from '../../../federation/log/writer.js';
import { LevelStore } from '../level.js';
import { BackupFileWriter, readBackupFile } from './file.js';
import { restoreBackup } from './restore.js';
import { backupStream } from './stream.js';
import { allianceId, chengdu, contents, kunming, registrations, removeTemporaryDirectories, sampleStore, startMs, temporaryDirectory, tipOf, trust, write } from './testing.js';

// The Backup stream of a real LevelDB store: one snapshot whatever commits go on, and the audit trail's files beside the private state, restored as files.

afterAll(removeTemporaryDirectories);

describe('backup stream', () => {
  it('backs up the snapshot it started with while commits go on', async () => {
    const { store } = await sampleStore();
    try {
      const before = await contents(store);
      const file = join(await temporaryDirectory(), 'live.txbak');
      const writer = await BackupFileWriter.create(file);
      const stream = backupStream(store.snapshot(), { includePrivate: true, allianceId, nodeId: kunming.nodeId, nowMs: () => startMs, proofsMax: 4, messageBytesMax: 1024 });
      let written = 0;
      for await (const message of stream) {
        await writer.write(message);
        // Commits land in the middle of the stream: none of them may show up in it.
        if (++written === 3) await write(store, new LogWriter(allianceId, chengdu.keyPair, await tipOf(store, chengdu)), registrations(5000, 20), 4, startMs + 900);
      }
      await writer.finish();
      const dataDir = await temporaryDirectory();
      await restoreBackup({ file, dataDir, trust, isOwnBackup: () => true });
      const restored = await LevelStore.open(join(dataDir, 'store'));
      try {
        expect(await contents(restored)).toEqual(before);
      } finally {
        await restored.close();
      }
      expect((await contents(store)).logs.find(([author]) => author === chengdu.nodeId)![1]).toBe(32);
    } finally {
      await store.close();
    }
  });

  it("carries the audit trail's files with the private state, restores them into the data directory, and refuses a file name it would not write", async () => {
    const { store } = await sampleStore();
    const dir = await temporaryDirectory();
    const auditDir = join(dir, 'audit');
    await mkdir(auditDir);
    const current = `${'{"client":"admin"}\n'.repeat(70_000)}`; // over one chunk (1 MiB)
    await writeFile(join(auditDir, 'audit.jsonl'), current);
    await writeFile(join(auditDir, 'audit-1000.jsonl'), '{"client":"old"}\n');
    const localFiles = () => ['audit-1000.jsonl', 'audit.jsonl'].map((name) => ({ name: `audit/${name}`, path: join(auditDir, name), bytes: Buffer.byteLength(name === 'audit.jsonl' ? current : '{"client":"old"}\n') }));
    const file = join(dir, 'with-audit.txbak');
    const writer = await BackupFileWriter.create(file);
    for await (const message of backupStream(store.snapshot(), { includePrivate: true, allianceId, nodeId: kunming.nodeId, nowMs: () => startMs + 1000, proofsMax: 4, localFiles })) await writer.write(message);
    await writer.finish();
    await store.close();
    const dataDir = await temporaryDirectory();
    const summary = await restoreBackup({ file, dataDir, trust, isOwnBackup: () => true });
    expect(summary.privateStates.restored).toBe(2 + 3); // two store keys, the current file's two chunks, the rotated one's one
    expect(await readFile(join(dataDir, 'audit', 'audit.jsonl'), 'utf8')).toBe(current);
    expect(await readFile(join(dataDir, 'audit', 'audit-1000.jsonl'), 'utf8')).toBe('{"client":"old"}\n');

    // The private state is not signed: a backup naming another file is refused, and nothing is written.
    const messages: BackupResponse[] = [];
    for await (const message of readBackupFile(file)) messages.push(message);
    const local = messages.find((m) => m.part?.$case === 'privateState' && m.part.value.key.includes('~files/audit/audit-1000'))!;
    if (local.part?.$case !== 'privateState') throw new Error('a local file chunk');
    local.part.value.key = local.part.value.key.replace('audit/audit-1000.jsonl', 'audit/../../escape.jsonl');
    const crafted = join(dir, 'crafted.txbak');
    const rewriter = await BackupFileWriter.create(crafted);
    for (const message of messages) await rewriter.write(message);
    await rewriter.finish();
    const target = await temporaryDirectory();
    await expect(restoreBackup({ file: crafted, dataDir: target, trust, isOwnBackup: () => true })).rejects.toMatchObject({ name: 'BackupError', message: expect.stringMatching(/only the audit trail's files are restored/) });
    expect(await readdir(target)).toEqual([]);
  });
});
