import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LogWriter } from '../../../federation/log/writer.js';
import { LevelStore } from '../level.js';
import { restoreBackup } from './restore.js';
import { allianceId, backupToFile, chengdu, contents, guiyang, kunming, registrations, removeTemporaryDirectories, sampleStore, startMs, temporaryDirectory, trust, write } from './testing.js';

// Restores of backups into new data directories: what a node stored comes back exactly, and a store is replaced only when forced.

afterAll(removeTemporaryDirectories);

describe('restore', () => {
  it('restores exactly what was stored, views left to be rebuilt, with the member admitted by governance', async () => {
    const { store } = await sampleStore();
    const file = join(await temporaryDirectory(), 'kunming.txbak');
    try {
      await backupToFile(store, file, 2048); // small messages: chunks split across several
      const dataDir = await temporaryDirectory();
      const phases = new Set<string>();
      const asked: string[] = [];
      const isOwnBackup = (backedUp: string) => (asked.push(backedUp), true);
      const summary = await restoreBackup({ file, dataDir, trust, isOwnBackup, onProgress: (phase) => phases.add(phase) });
      expect(summary).toMatchObject({ entries: 2 + 250 + 30 + 12 + 3, proofs: 1, privateStates: { restored: 2, skipped: 0 } });
      expect(asked).toEqual([kunming.nodeId]);
      expect([...phases]).toEqual(['verify', 'write']);
      expect(summary.header.logs).toHaveLength(4);
      expect(summary.trust.describe(chengdu.nodeId)).toMatch(/^Chengdu/);

      const restored = await LevelStore.open(join(dataDir, 'store'));
      try {
        expect(await contents(restored)).toEqual(await contents(store));
        // Every batch boundary is back, not only the latest heads.
        expect(Number((await restored.headAtOrBefore(kunming.nodeId, 100))!.head!.seq)).toBe(81);
        expect(await restored.getState('meta/views-rebuild')).toBeDefined();
        expect(await restored.getState('view/entity/x')).toBeUndefined();
      } finally {
        await restored.close();
      }
      expect((await readdir(dataDir)).sort()).toEqual(['store']);

      // Into another node's directory: the logs seed it, Kunming's private state stays out.
      const otherDir = await temporaryDirectory();
      expect((await restoreBackup({ file, dataDir: otherDir, trust })).privateStates).toEqual({ restored: 0, skipped: 2 });
      const seeded = await LevelStore.open(join(otherDir, 'store'));
      try {
        expect(await contents(seeded)).toEqual({ ...(await contents(store)), privateState: [] });
      } finally {
        await seeded.close();
      }
    } finally {
      await store.close();
    }
  });

  it('refuses to replace a store unless forced, and then replaces it whole', async () => {
    const { store } = await sampleStore();
    const file = join(await temporaryDirectory(), 'k.txbak');
    await backupToFile(store, file);
    await store.close();
    const dataDir = await temporaryDirectory();
    const other = await LevelStore.open(join(dataDir, 'store'));
    await write(other, new LogWriter(allianceId, guiyang.keyPair), registrations(9000, 5), 5, startMs);
    await expect(restoreBackup({ file, dataDir, trust })).rejects.toMatchObject({ name: 'BackupTargetError', message: expect.stringMatching(/holds a store; stop its node and pass --force/) });
    await expect(restoreBackup({ file, dataDir, trust, force: true })).rejects.toMatchObject({ name: 'BackupTargetError', message: expect.stringMatching(/is open in a running node/) });
    await other.close();
    await restoreBackup({ file, dataDir, trust, force: true });
    const restored = await LevelStore.open(join(dataDir, 'store'));
    try {
      expect((await contents(restored)).logs).toHaveLength(4);
      expect(Number((await restored.latestHead(guiyang.nodeId))!.head!.seq)).toBe(31);
    } finally {
      await restored.close();
    }
    expect((await readdir(dataDir)).sort()).toEqual(['store']);
  });
});
