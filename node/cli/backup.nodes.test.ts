import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { entityProfile, usccFor } from '../../federation/testing/records.js';
import { connectApi, type ApiClient } from '../api/client.js';
import { loadNodeConfig } from '../config.js';
import { writeLocalAlliance, type CityFiles } from '../local-alliance.js';
import { startNode, type RunningNode } from '../node.js';
import type { Io } from './command.js';
import { main } from './main.js';
import { eventually as waitFor } from '../../federation/testing/eventually.js';

// Backup and restore end to end: two city nodes started in this process
// (real LevelDB, gRPC with TLS between them, 127.0.0.1 only, gossip off so
// anti-entropy does the catching up). Kunming is backed up while it takes
// writes, stopped, restored into a new data directory and started from it:
// it answers from the restored store, pulls back its own entries written
// after the backup and Guiyang's written while it was down, then writes
// again. A tampered copy of the backup is refused and writes nothing.
// Conditions are awaited with deadlines; nothing asserts on durations.

const eventually = <T>(what: string, probe: () => Promise<T | undefined | false>) => waitFor(what, probe, { timeoutMs: 30_000, pollMs: 50 });
const nodes = new Set<RunningNode>();
const clients: ApiClient[] = [];
let dir: string | undefined;

afterAll(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all([...nodes].map((node) => node.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function start(configFile: string): Promise<RunningNode> {
  const node = await startNode(loadNodeConfig(configFile));
  nodes.add(node);
  return node;
}

async function stop(node: RunningNode): Promise<void> {
  await node.stop();
  nodes.delete(node);
}

function client(node: RunningNode): ApiClient {
  const api = connectApi(`127.0.0.1:${node.apiPort}`);
  clients.push(api);
  return api;
}

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), stdoutBytes: () => {} };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

/** Node `at`'s stored seq of `of`'s log. */
async function storedSeq(at: ApiClient, of: CityFiles): Promise<number> {
  const status = await at.getStatus();
  return Number(status.members.find((m) => Buffer.from(m.nodeId).toString('hex') === of.nodeId)?.storedSeq ?? -1);
}

describe('tongxing backup and restore', () => {
  it('backs up a running node, restores it into a new directory, and the restored node serves and catches up', async () => {
    const written = await writeLocalAlliance({ cities: 2, antiEntropyIntervalMs: 100, beaconIntervalMs: 500, tweak: (_, config) => (config.gossip.listen = '') });
    dir = written.dir;
    const [kunmingFiles, guiyangFiles] = written.cities as [CityFiles, CityFiles];
    let kunming = await start(kunmingFiles.configFile);
    const guiyang = await start(guiyangFiles.configFile);
    const k = client(kunming);
    const g = client(guiyang);

    for (let i = 0; i < 40; i++) await k.registerEntity(entityProfile(usccFor(i)));
    for (let i = 100; i < 110; i++) await g.registerEntity(entityProfile(usccFor(i)));
    await eventually('Guiyang holds Kunming\'s log and Kunming Guiyang\'s', async () => (await storedSeq(g, kunmingFiles)) === 40 && (await storedSeq(k, guiyangFiles)) === 10);

    // Back up while Kunming keeps taking writes: the file is one consistent snapshot.
    const file = join(dir, 'kunming.txbak');
    let writing = true;
    let next = 40;
    const writer = (async () => {
      while (writing) await k.registerEntity(entityProfile(usccFor(next++)));
    })();
    await eventually('writes going on', async () => next >= 45);
    const backup = await run('backup', '--node', `127.0.0.1:${kunming.apiPort}`, '--config', kunmingFiles.configFile, '--out', file, '--json');
    writing = false;
    await writer;
    expect(backup.stderr).toMatch(/backup .*entries/);
    expect(backup.code, backup.stderr).toBe(0);
    const summary = JSON.parse(backup.stdout) as { entries: number; logs: Array<{ author: string; entries: number }>; nodeId: string; sm3: string; privateStateIncluded: boolean };
    expect(summary.nodeId).toBe(kunmingFiles.nodeId);
    expect(summary.privateStateIncluded).toBe(true); // signed with Kunming's key from its node file
    const kunmingInBackup = summary.logs.find((l) => l.author === kunmingFiles.nodeId)!.entries;
    expect(kunmingInBackup).toBeGreaterThanOrEqual(40);
    expect(summary.logs.find((l) => l.author === guiyangFiles.nodeId)!.entries).toBe(10);
    // A second backup to the same file is refused.
    expect((await run('backup', '--node', `127.0.0.1:${kunming.apiPort}`, '--out', file)).code).toBe(2);
    // Without the node's key: the shared logs only. With another node's key: refused.
    const shared = await run('backup', '--node', `127.0.0.1:${kunming.apiPort}`, '--out', join(dir, 'shared.txbak'), '--json');
    expect(shared.code, shared.stderr).toBe(0);
    expect(JSON.parse(shared.stdout)).toMatchObject({ privateStateIncluded: false, privateStates: 0 });
    const foreign = await run('backup', '--node', `127.0.0.1:${kunming.apiPort}`, '--config', guiyangFiles.configFile, '--out', join(dir, 'foreign.txbak'));
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toMatch(/INVALID_ARGUMENT: signature: does not verify under this node's key/);
    expect(existsSync(join(dir, 'foreign.txbak'))).toBe(false);

    // After the backup: more of Kunming's own writes reach Guiyang, then Kunming goes down.
    for (let i = 0; i < 5; i++) await k.registerEntity(entityProfile(usccFor(next++)));
    const kunmingTotal = next;
    await eventually('Guiyang holds all of Kunming\'s log', async () => (await storedSeq(g, kunmingFiles)) === kunmingTotal);
    await stop(kunming);
    for (let i = 110; i < 130; i++) await g.registerEntity(entityProfile(usccFor(i)));

    // A tampered copy is refused and nothing is written.
    const tampered = join(dir, 'tampered.txbak');
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length * 0.6)]! ^= 0x04;
    writeFileSync(tampered, bytes);
    const refusedDir = join(dir, 'data', 'refused');
    const refused = await run('restore', '--in', tampered, '--config', kunmingFiles.configFile, '--data-dir', refusedDir);
    expect(refused.code, refused.stderr).toBe(1);
    // Which check catches the flipped bit depends on what it lands in (a checksum, an entry, a chunk's author): any of them refuses.
    expect(refused.stderr).toMatch(/tongxing restore: .*(checksum mismatch|entries \d+\.\.\d+: |does not decode|a chunk of )/);
    expect(refused.stderr).toMatch(/nothing was written/);
    expect(existsSync(refusedDir) ? readdirSync(refusedDir) : []).toEqual([]);

    // Restore into a new data directory and start Kunming from it.
    const restoredDir = join(dir, 'data', 'kunming-restored');
    const restored = await run('restore', '--in', file, '--config', kunmingFiles.configFile, '--data-dir', restoredDir);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(new RegExp(`restored ${summary.entries} entries in 2 logs, 0 equivocation proofs, from the backup of Kunming`));
    expect(restored.stderr).toMatch(/verify .*verified/);
    // The audit trail came along with the private state: Kunming's registrations, by its admin credential.
    const audited = readFileSync(join(restoredDir, 'audit', 'audit.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(audited.filter((r) => r.method === 'tongxing.api.v1.EntityService/RegisterEntity' && r.client === 'admin' && r.outcome === 'ok').length).toBeGreaterThanOrEqual(40);
    // The data directory is not empty now: a second restore needs --force.
    expect((await run('restore', '--in', file, '--config', kunmingFiles.configFile, '--data-dir', restoredDir)).code).toBe(2);

    const config = parseYaml(readFileSync(kunmingFiles.configFile, 'utf8')) as Record<string, unknown>;
    const restoredConfig = join(dir, 'kunming-restored.yaml');
    writeFileSync(restoredConfig, toYaml({ ...config, dataDir: 'data/kunming-restored' }));
    kunming = await start(restoredConfig);
    const k2 = client(kunming);
    // Views were rebuilt from the restored logs: a registration from before the backup answers.
    expect((await k2.getEntity(usccFor(7))).found).toBe(true);
    expect((await k2.getEntity(usccFor(105))).found).toBe(true);
    // Catch-up: its own entries written after the backup, and Guiyang's written while it was down.
    await eventually('the restored Kunming catches up', async () => (await storedSeq(k2, kunmingFiles)) === kunmingTotal && (await storedSeq(k2, guiyangFiles)) === 30);
    expect((await k2.getEntity(usccFor(kunmingTotal - 1))).found).toBe(true);
    expect((await k2.getEntity(usccFor(129))).found).toBe(true);
    // With its own log back it writes again, continuing the same history.
    const provenance = await eventually('Kunming writes again', () => k2.registerEntity(entityProfile(usccFor(500))));
    expect(provenance.provenance?.seq).toBe(BigInt(kunmingTotal + 1));
    await eventually('Guiyang takes it without an equivocation', async () => (await storedSeq(g, kunmingFiles)) === kunmingTotal + 1);
    expect((await g.getStatus()).members.every((m) => !m.equivocated)).toBe(true);

    // node status shows the new columns, and node health answers.
    const status = await run('node', 'status', '--node', `127.0.0.1:${kunming.apiPort}`, '--json');
    const parsed = JSON.parse(status.stdout) as { storeBytes: number; members: Array<{ self: boolean; connected: boolean; freshnessBreaches: number; behindBy: number }> };
    expect(parsed.storeBytes).toBeGreaterThan(0);
    expect(parsed.members.find((m) => !m.self)).toMatchObject({ connected: true, behindBy: 0 });
    const table = await run('node', 'status', '--node', `127.0.0.1:${kunming.apiPort}`);
    expect(table.stdout).toMatch(/link\s+stored \/ known\s+lag\s+head age\s+breaches\s+flags/);
    expect(table.stdout).toMatch(/Guiyang\s+[0-9a-f]{12}\s+connected, /);
    expect(await run('node', 'health', '--node', `127.0.0.1:${kunming.apiPort}`)).toMatchObject({ code: 0, stdout: 'SERVING\n' });
  }, 120_000);
});
