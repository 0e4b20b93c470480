import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BackupResponse } from '../../../gen/tongxing/api/v1/api.js';
import { signedGenesis, testCity } from '../../../federation/governance/testing.js';
import { genesisTrust } from '../../cli/restore.js';
import { BackupFileWriter, readBackupFile } from './file.js';
import { restoreBackup } from './restore.js';
import { backupStream } from './stream.js';
import { allianceId, backupToFile, kunming, removeTemporaryDirectories, sampleStore, startMs, temporaryDirectory, trust } from './testing.js';
import { type BackupTrustSource, verifyBackup } from './verify.js';

// A damaged or tampered backup is refused and nothing is written; a stream out of order or short of its counts is named.

afterAll(removeTemporaryDirectories);

describe('backup verification', () => {
  it('refuses a damaged file, a file tampered with under a new checksum, a truncated one and another alliance\'s, writing nothing', async () => {
    const { store } = await sampleStore();
    const dir = await temporaryDirectory();
    const file = join(dir, 'good.txbak');
    await backupToFile(store, file);
    await store.close();
    const good = await readFile(file);

    const refused = async (name: string, bytes: Buffer, pattern: RegExp, source = trust) => {
      const path = join(dir, name);
      await writeFile(path, bytes);
      const dataDir = await temporaryDirectory();
      await expect(restoreBackup({ file: path, dataDir, trust: source }), name).rejects.toMatchObject({ name: 'BackupError', message: expect.stringMatching(pattern) });
      expect(await readdir(dataDir), `${name}: nothing written`).toEqual([]);
    };

    // One bit flipped mid-file: whichever check it lands under (checksum, decoding, an entry, a chunk's author) refuses.
    const flipped = Buffer.from(good);
    flipped[Math.floor(good.length / 2)]! ^= 0x01;
    await refused('flipped.txbak', flipped, /checksum mismatch|does not decode|entries \d+\.\.\d+: |a chunk of /);

    // An entry changed and the checksum recomputed: the hash chain to the signed head catches it.
    const messages: BackupResponse[] = [];
    for await (const message of readBackupFile(file)) messages.push(message);
    const chunk = messages.find((m) => m.part?.$case === 'chunk' && m.part.value.entries.length > 3)!;
    if (chunk.part?.$case !== 'chunk') throw new Error('a chunk');
    const entry = Buffer.from(chunk.part.value.entries[1]!);
    entry[entry.length - 2]! ^= 0x20; // a letter of a company name
    chunk.part.value.entries[1] = entry;
    const rewritten = join(dir, 'rewritten.txbak');
    const writer = await BackupFileWriter.create(rewritten);
    for (const message of messages) await writer.write(message);
    await writer.finish();
    await refused('rewritten.txbak', await readFile(rewritten), /(Kunming|Guiyang|Chengdu|Nanning) \([0-9a-f]{12}\): entries \d+\.\.\d+: .*(prev does not match|do not hash to the head)/);

    await refused('truncated.txbak', good.subarray(0, good.length - 40), /truncated/);
    await refused('empty.txbak', Buffer.alloc(0), /not a Tongxing backup file/);
    await refused('other.txbak', Buffer.concat([Buffer.from('TONGXING BACKUP\n'), good.subarray(0, 10)]), /truncated|does not decode/);

    const { verified: otherGenesis } = signedGenesis([testCity('Kunming'), testCity('Guiyang')]);
    await refused('good.txbak', good, /the backup is of alliance [0-9a-f]{16}…, this node's alliance is/, genesisTrust(otherGenesis));
    // A genesis of the same alliance id cannot be made with other keys; without Chengdu's admission its log cannot verify.
    const trustWithoutGovernance: BackupTrustSource = { allianceId, trustFor: () => trust.trustFor([]) };
    await refused('good.txbak', good, /Chengdu|not a member/, trustWithoutGovernance);
  });

  it('checks the stream\'s order and counts: a missing chunk or trailer is named', async () => {
    const { store } = await sampleStore();
    const messages: BackupResponse[] = [];
    for await (const message of backupStream(store.snapshot(), { includePrivate: true, allianceId, nodeId: kunming.nodeId, nowMs: () => startMs, proofsMax: 4 })) messages.push(message);
    await store.close();
    const run = async (list: BackupResponse[]) => {
      const source = (async function* () {
        yield* list;
      })();
      for await (const _ of verifyBackup(source, trust.trustFor([]), { lenient: { unverified: new Map() } })); // eslint-disable-line @typescript-eslint/no-unused-vars
    };
    await expect(run(messages.slice(0, -1))).rejects.toThrow(/ends without its trailer/);
    const chunks = messages.map((m, i) => [m, i] as const).filter(([m]) => m.part?.$case === 'chunk');
    await expect(run(messages.filter((_, i) => i !== chunks[3]![1]))).rejects.toThrow(/ChainError|head at seq|needs \d+ entries|where the header has/);
    await expect(run(messages.slice(1))).rejects.toThrow(/does not start with its header/);
  });
});
