import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EquivocationProof } from '../../../gen/tongxing/log/v1/log.js';
import type { Record } from '../../../gen/tongxing/records/v1/records.js';
import { admission, signedGenesis, testCity, type TestCity } from '../../../federation/governance/testing.js';
import { makeProof } from '../../../federation/log/equivocation.js';
import { LogWriter } from '../../../federation/log/writer.js';
import { entityRegistration, usccFor } from '../../../federation/testing/records.js';
import { genesisTrust } from '../../cli/restore.js';
import { LevelStore } from '../level.js';
import { BackupFileWriter } from './file.js';
import { backupStream } from './stream.js';
import type { BackupTrustSource } from './verify.js';

// For the backup tests: real LevelDB stores in temporary directories, backed
// up and restored. Members come from a signed genesis; Chengdu joins through
// governance records, so its log verifies only once those are read.

const directories: string[] = [];

/** A new directory, removed by removeTemporaryDirectories (call it in afterAll). */
export async function temporaryDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'tongxing-backup-'));
  directories.push(directory);
  return directory;
}

export async function removeTemporaryDirectories(): Promise<void> {
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
}

export const [kunming, guiyang, nanning] = ['Kunming', 'Guiyang', 'Nanning'].map((city) => testCity(city)) as [TestCity, TestCity, TestCity];
export const chengdu = testCity('Chengdu');
const { verified: genesis } = signedGenesis([kunming, guiyang, nanning]);
export const allianceId = genesis.allianceId;
export const trust: BackupTrustSource = genesisTrust(genesis);
export const startMs = Date.UTC(2025, 5, 1);

/** Appends records in batches (one head each) and commits them. */
export async function write(store: LevelStore, writer: LogWriter, records: Record[], batchSize: number, atMs: number): Promise<Buffer[]> {
  const hashes: Buffer[] = [];
  for (let i = 0; i < records.length; i += batchSize) {
    for (const record of records.slice(i, i + batchSize)) hashes.push(writer.append(record, atMs + i).hash);
    const sealed = writer.seal(atMs + i)!;
    await store.commit({ entries: sealed.entries, heads: [sealed.head], state: [] });
  }
  return hashes;
}

export const registrations = (from: number, count: number): Record[] => Array.from({ length: count }, (_, i) => entityRegistration(usccFor(from + i)));

/** A store with four logs (one of a member admitted by governance) and one equivocation proof. */
export async function sampleStore(): Promise<{ store: LevelStore; directory: string }> {
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

export async function backupToFile(store: LevelStore, file: string, messageBytesMax?: number): Promise<void> {
  const writer = await BackupFileWriter.create(file);
  for await (const message of backupStream(store.snapshot(), { includePrivate: true, allianceId, nodeId: kunming.nodeId, nowMs: () => startMs + 1000, proofsMax: 4, messageBytesMax })) {
    await writer.write(message);
  }
  await writer.finish();
}

/** Every author's entries and heads, and the proofs, as a comparable value. */
export async function contents(store: LevelStore) {
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

export async function tipOf(store: LevelStore, city: TestCity) {
  const head = (await store.latestHead(city.nodeId))!.head!;
  return { seq: Number(head.seq), hash: head.entryHash, hlc: head.hlc };
}
