import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Verdict } from '../gen/tongxing/api/v1/api.js';
import { readPrivateKeyPem } from '../federation/crypto/pem.js';
import { Membership } from '../federation/membership.js';
import { Replica } from '../federation/replica.js';
import { entityRegistration, sanction, usccFor } from '../federation/testing/records.js';
import { connectApi, type ApiClient } from '../node/api/client.js';
import { loadNodeConfig } from '../node/config.js';
import { loadGenesis } from '../node/genesis-file.js';
import { startLocalAlliance, startNodeProcess, writeLocalAlliance, type NodeProcess } from '../node/local-alliance.js';
import { LevelStore } from '../node/store/level.js';
import { median } from './micro.js';
import { Prng } from '../federation/testing/prng.js';

// Federation figures on real node processes over loopback: issue-to-enforcement
// propagation, catch-up of a fresh node, and replication compared with
// Hypercore on the same number and size of entries.

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 120_000, pollMs = 2): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`bench: gave up waiting for ${what}`);
    await sleep(pollMs);
  }
}

/** Issue `count` sanctions one after another at rotating cities; time until every city enforces each. */
export async function propagationFigures(cities = 5, count = 200) {
  const alliance = await startLocalAlliance({ cities, beaconIntervalMs: 1000 });
  const apis: ApiClient[] = alliance.cities.map((c) => connectApi(c.apiAddress));
  try {
    await until('all members heard', async () => {
      const statuses = await Promise.all(apis.map((api) => api.getStatus()));
      return statuses.every((s) => s.members.every((m) => m.self || m.headAgeMs >= 0n));
    });
    const everywhereMs: number[] = [];
    const perCityMs: number[] = [];
    for (let i = 0; i < count; i++) {
      const uscc = usccFor(500_000 + i);
      const issuer = apis[i % cities]!;
      const start = performance.now();
      await issuer.issueSanction(sanction(`BENCH-${i}`, uscc, Date.now() - 1000));
      const times = await Promise.all(
        apis.map(async (api) => {
          await until(`sanction ${i}`, async () => (await api.checkSanctions(uscc)).verdict === Verdict.VERDICT_RESTRICTED, 30_000, 1);
          return performance.now() - start;
        }),
      );
      perCityMs.push(...times.filter((_, c) => c !== i % cities));
      everywhereMs.push(Math.max(...times));
    }
    return {
      propagation_cities: cities,
      propagation_sanctions: count,
      propagation_ms_p50: percentile(everywhereMs, 50),
      propagation_ms_p99: percentile(everywhereMs, 99),
      propagation_ms_max: Math.max(...everywhereMs),
      propagation_per_city_ms_p50: percentile(perCityMs, 50),
    };
  } finally {
    for (const api of apis) api.close();
    await alliance.stop();
  }
}

/** Writes `count` registrations into city 0's own log, offline, straight into its LevelDB. */
async function prepareLog(configFile: string, count: number): Promise<void> {
  const config = loadNodeConfig(configFile);
  const alliance = loadGenesis(config.allianceFile);
  const store = await LevelStore.open(join(config.dataDir, 'store'), { sync: false });
  const replica = await Replica.open(
    { allianceId: alliance.allianceId, keyPair: readPrivateKeyPem(readFileSync(config.keyFile, 'utf8')), genesis: alliance, members: new Membership([]) },
    { store, transport: { exchangeHeads: async () => ({ heads: [], proofs: [] }), pullEntries: async function* () {}, announce: () => {} }, clock: { nowMs: () => Date.now() }, random: new Prng('test').random() },
  );
  for (let i = 0; i < count; i += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, count - i) }, (_, j) =>
        replica.write(entityRegistration(usccFor(i + j), `Yunnan Provincial Construction Engineering Group No. ${i + j} Co., Ltd. (works, goods, services)`)),
      ),
    );
  }
  await replica.close();
  await store.close();
}

/** A fresh node catching up on `count` entries held by two peers. */
export async function catchupFigures(count = 200_000) {
  const { dir, cities } = await writeLocalAlliance({ cities: 3, beaconIntervalMs: 1000 });
  const nodes: NodeProcess[] = [];
  try {
    await prepareLog(cities[0]!.configFile, count);
    cpSync(cities[0]!.dataDir, cities[1]!.dataDir, { recursive: true }); // the second peer holds the same log
    for (const city of cities.slice(0, 2)) nodes.push(await startNodeProcess(city));
    nodes.push(await startNodeProcess(cities[2]!));
    const fresh = connectApi(cities[2]!.apiAddress);
    const stored = async () => Number((await fresh.getStatus()).members.find((m) => Buffer.from(m.nodeId).toString('hex') === cities[0]!.nodeId)!.storedSeq);
    let first = 0;
    let firstAt = 0;
    await until('catch-up starts', async () => (first = await stored()) > 0, 60_000, 20);
    firstAt = performance.now();
    await until('catch-up ends', async () => (await stored()) >= count, 600_000, 20);
    const seconds = (performance.now() - firstAt) / 1000;
    fresh.close();
    return { catchup_entries: count, catchup_entries_per_s: (count - first) / seconds };
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

const hypercorePeer = join(dirname(fileURLToPath(import.meta.url)), 'hypercore-peer.js');

function runPeer(args: string[]): { child: ReturnType<typeof spawn>; firstLine: Promise<string> } {
  const child = spawn(process.execPath, [hypercorePeer, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const firstLine = new Promise<string>((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) ok(out.split('\n')[0]!);
    });
    child.once('exit', (code) => fail(new Error(`hypercore peer exited with ${code}`)));
  });
  return { child, firstLine };
}

/** Hypercore replicating `count` blocks of `bytes` between two processes on loopback. */
export async function hypercoreFigures(count = 200_000, bytes = 300, runs = 3) {
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const dir = mkdtempSync(join(tmpdir(), 'tongxing-bench-hypercore-'));
    const writer = runPeer(['writer', join(dir, 'writer'), String(count), String(bytes)]);
    try {
      const { port, key } = JSON.parse(await writer.firstLine) as { port: number; key: string };
      const reader = runPeer(['reader', join(dir, 'reader'), String(port), key, String(count)]);
      const { ms } = JSON.parse(await reader.firstLine) as { ms: number };
      rates.push(count / (ms / 1000));
    } finally {
      writer.child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { hypercore_entries_per_s: median(rates) };
}
