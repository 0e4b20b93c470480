import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BackupResponse } from '../../gen/tongxing/api/v1/api.js';
import type { Record } from '../../gen/tongxing/records/v1/records.js';
import { admission, signedGenesis, testCity, type TestCity } from '../../federation/governance/testing.js';
import { makeProof } from '../../federation/log/equivocation.js';
import { LogWriter } from '../../federation/log/writer.js';
import { entityRegistration, usccFor } from '../../federation/testing/records.js';
import { genesisTrust } from '../cli/restore.js';
import {
  BackupFileWriter,
  backupStream,
  privateBackupAllowed,
  readBackupFile,
  restoreBackup,
  signBackupRequest,
  verifyBackup,
  type BackupTrustSource,
} from './backup.js';
import { LevelStore } from './level.js';

// Backups of a real LevelDB store, restored into new directories: what a node
// stored comes back exactly; a damaged or tampered file is refused and
// nothing is written. Members come from a signed genesis; Chengdu joins
// through governance records, so its log verifies only once those are read.

const directories: string[] = [];
async function temporaryDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'tongxing-backup-'));
  directories.push(directory);
  return directory;
}
afterAll(async () => {
  for (const directory of directories) await rm(directory, { recursive: true, force: true });
});

const [kunming, guiyang, nanning] = ['Kunming', 'Guiyang', 'Nanning'].map((city) => testCity(city)) as [TestCity, TestCity, TestCity];
const chengdu = testCity('Chengdu');
const { verified: genesis } = signedGenesis([kunming, guiyang, nanning]);
const allianceId = genesis.allianceId;
const trust: BackupTrustSource = genesisTrust(genesis);
const startMs = Date.UTC(2025, 5, 1);

/** Appends records in batches (one head each) and commits them. */
async function write(store: LevelStore, writer: LogWriter, records: Record[], batchSize: number, atMs: number): Promise<Buffer[]> {
  const hashes: Buffer[] = [];
  for (let i = 0; i < records.length; i += batchSize) {
    for (const record of records.slice(i, i + batchSize)) hashes.push(writer.append(record, atMs + i).hash);
    const sealed = writer.seal(atMs + i)!;
    await store.commit({ entries: sealed.entries, heads: [sealed.head], state: [] });
  }
  return hashes;
}

const registrations = (from: number, count: number): Record[] => Array.from({ length: count }, (_, i) => entityRegistration(usccFor(from + i)));

/** A store with four logs (one of a member admitted by governance) and one equivocation proof. */
async function sampleStore(): Promise<{ store: LevelStore; directory: string }> {
  const directory = await temporaryDirectory();
  const store = await LevelStore.open(directory);
  const writers = new Map([kunming, guiyang, nanning, chengdu].map((c) => [c.nodeId, new LogWriter(allianceId, c.keyPair)]));
  const [proposal] = await write(store, writers.get(kunming.nodeId)!, [{ kind: { $case: 'governanceProposal', value: { epoch: 0n, reason: 'Chengdu joins', action: admission(allianceId, chengdu) } } }], 1, startMs);
  await write(store, writers.get(guiyang.nodeId)!, [{ kind: { $case: 'governanceApproval', value: { proposalHash: proposal!, epoch: 0n } } }], 1, startMs + 10);
  await write(store, writers.get(kunming.nodeId)!, registrations(1, 250), 40, startMs + 100);
  await write(store, writers.get(guiyang.nodeId)!, registrations(1000, 30), 7, startMs + 200);
  await write(store, writers.get(chengdu.nodeId)!, registrations(2000, 12), 5, startMs + 300);
  // Nanning signs two histories: one is stored, the other proves it.
  await write(store, writers.get(nanning.nodeId)!, registrations(3000, 3), 3, startMs + 400);
  const fork = new LogWriter(allianceId, nanning.keyPair);
  fork.append(entityRegistration(usccFor(3999)), startMs + 401);
  const forked = fork.seal(startMs + 401)!;
  const stored = (await store.latestHead(nanning.nodeId))!;
  const chain = (await store.entries(nanning.nodeId, 2, 3, 2)).map((e) => e.bytes);
  const proof = makeProof(stored, forked.head, chain);
  const { EquivocationProof } = await import('../../gen/tongxing/log/v1/log.js');
  await store.commit({ entries: [], heads: [], state: [{ key: `proof/${nanning.nodeId}`, value: EquivocationProof.encode(proof).finish() }] });
  // Primary data of Kunming's node in no log (node/store/expert-private.ts), and a view (derived: not backed up).
  await store.commit({
    entries: [],
    heads: [],
    state: [
      { key: 'private/expert/salt', value: Buffer.from('salt of Kunming') },
      { key: 'private/evaluation/seed/KM-1', value: Buffer.from('seed') },
      { key: 'view/entity/x', value: Buffer.from('derived') },
    ],
  });
  return { store, directory };
}

async function backupToFile(store: LevelStore, file: string, messageBytesMax?: number): Promise<void> {
  const writer = await BackupFileWriter.create(file);
  for await (const message of backupStream(store.snapshot(), { includePrivate: true, allianceId, nodeId: kunming.nodeId, nowMs: () => startMs + 1000, proofsMax: 4, messageBytesMax })) {
    await writer.write(message);
  }
  await writer.finish();
}

/** Every author's entries and heads, and the proofs, as a comparable value. */
async function contents(store: LevelStore) {
  const logs: Array<[string, number, string]> = [];
  for (const head of await store.latestHeads()) {
    const author = head.head!.author.toString('hex');
    const seq = Number(head.head!.seq);
    const entries = await store.entries(author, 1, seq, seq);
    logs.push([author, seq, Buffer.concat(entries.map((e) => e.bytes)).toString('hex')]);
  }
  return {
    logs,
    proofs: (await store.stateRange('proof/', 10)).map(([key]) => key),
    privateState: (await store.stateRange('private/', 10)).map(([key, value]) => `${key}=${Buffer.from(value).toString()}`),
  };
}

describe('backup and restore', () => {
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

  it('refuses to overwrite a backup file unless forced, and leaves no partial file behind on abort', async () => {
    const dir = await temporaryDirectory();
    const file = join(dir, 'x.txbak');
    await writeFile(file, 'something');
    await expect(BackupFileWriter.create(file)).rejects.toMatchObject({ name: 'BackupTargetError' });
    const writer = await BackupFileWriter.create(file, true);
    await writer.write({ part: { $case: 'trailer', value: { chunks: 0n, entries: 0n } } });
    await writer.abort();
    expect(await readdir(dir)).toEqual(['x.txbak']);
    expect((await stat(file)).size).toBe('something'.length);
  });

  it('has the private state only for a recent request signed with the node\'s own key', async () => {
    const node = { allianceId, nodeId: kunming.nodeId, nodeKey: kunming.keyPair.publicKey, nowMs: startMs };
    expect(privateBackupAllowed({ atMs: 0n, signature: Buffer.alloc(0) }, node)).toBe(false);
    expect(privateBackupAllowed(signBackupRequest(kunming.keyPair, allianceId, kunming.nodeId, startMs - 5_000), node)).toBe(true);
    const refusal = (request: Parameters<typeof privateBackupAllowed>[0]) => {
      try {
        privateBackupAllowed(request, node);
      } catch (error) {
        return (error as { field?: string }).field;
      }
      return 'allowed';
    };
    expect(refusal(signBackupRequest(guiyang.keyPair, allianceId, kunming.nodeId, startMs))).toBe('signature');
    expect(refusal(signBackupRequest(kunming.keyPair, allianceId, guiyang.nodeId, startMs))).toBe('signature'); // for another node
    expect(refusal(signBackupRequest(kunming.keyPair, allianceId, kunming.nodeId, startMs - 120_000))).toBe('atMs');
    expect(refusal({ atMs: BigInt(startMs), signature: Buffer.from('garbage') })).toBe('signature');

    const { store } = await sampleStore();
    try {
      const header = async (includePrivate: boolean) => {
        for await (const message of backupStream(store.snapshot(), { includePrivate, allianceId, nodeId: kunming.nodeId, nowMs: () => startMs, proofsMax: 4 })) {
          if (message.part?.$case === 'header') return message.part.value;
        }
        throw new Error('no header');
      };
      expect(await header(true)).toMatchObject({ privateStateIncluded: true, privateStates: 2n });
      expect(await header(false)).toMatchObject({ privateStateIncluded: false, privateStates: 0n });
      const messages: string[] = [];
      for await (const message of backupStream(store.snapshot(), { includePrivate: false, allianceId, nodeId: kunming.nodeId, nowMs: () => startMs, proofsMax: 4 })) messages.push(message.part!.$case);
      expect(messages).not.toContain('privateState');
    } finally {
      await store.close();
    }
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

async function tipOf(store: LevelStore, city: TestCity) {
  const head = (await store.latestHead(city.nodeId))!.head!;
  return { seq: Number(head.seq), hash: head.entryHash, hlc: head.hlc };
}
