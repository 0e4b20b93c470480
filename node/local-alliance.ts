import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { writePrivateKeyPem } from '../federation/crypto/pem.js';
import { generateKeyPair, nodeIdOf } from '../federation/crypto/sm2.js';
import { generatePeerKey, peerIdOfKey, peerKeyToBase64 } from './gossip.js';
import { readyMarker } from './cli/run.js';

// A whole alliance on one machine: keys, alliance file and one config per
// city in a fresh directory, each node a separate `tongxing node start`
// process on 127.0.0.1. Used by the demo, the integration tests and the
// benchmarks; everything it starts is stopped by stop(), also on failure.

/** The example alliance of DOMAIN.md: western cities with GB/T 2260 codes. */
export const westernCities: ReadonlyArray<readonly [city: string, regionCode: string]> = [
  ['Kunming', '530100'],
  ['Guiyang', '520100'],
  ['Nanning', '450100'],
  ['Chengdu', '510100'],
  ['Chongqing', '500000'],
  ["Xi'an", '610100'],
  ['Lanzhou', '620100'],
  ['Xining', '630100'],
  ['Yinchuan', '640100'],
  ['Urumqi', '650100'],
  ['Lhasa', '540100'],
  ['Hohhot', '150100'],
];

/** The repository root: the nearest folder above this module with a package.json (from node/ or dist/node/). */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = resolve(dir, '..');
  return dir;
}

const cliPath = join(projectRoot(), 'bin', 'tongxing.js');

export interface CityFiles {
  readonly city: string;
  readonly nodeId: string;
  readonly configFile: string;
  readonly dataDir: string;
  readonly apiAddress: string;
  readonly peerAddress: string;
}

export interface LocalAllianceInit {
  readonly cities: number;
  /** Directory to write into; a fresh temporary one (removed by stop) when absent. */
  readonly dir?: string;
  readonly antiEntropyIntervalMs?: number;
  readonly beaconIntervalMs?: number;
  readonly freshnessBudgetMs?: number;
  /** Adjusts city i's config before it is written (e.g. gossip off for one city). */
  readonly tweak?: (index: number, config: { gossip: { listen: string } } & Record<string, unknown>) => void;
}

/** Free TCP ports on 127.0.0.1, asked of the kernel. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((ok, fail) => {
      const server = createServer();
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => ok(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}

/** Writes keys, the alliance file and node configs for `cities` members. */
export async function writeLocalAlliance(init: LocalAllianceInit): Promise<{ dir: string; cities: CityFiles[] }> {
  if (init.cities < 1 || init.cities > westernCities.length) throw new RangeError(`cities must be 1..${westernCities.length}`);
  const dir = init.dir ?? mkdtempSync(join(tmpdir(), 'tongxing-'));
  mkdirSync(join(dir, 'keys'), { recursive: true });
  const ports = await freePorts(init.cities * 3);
  const members = [];
  const cities: CityFiles[] = [];
  for (let i = 0; i < init.cities; i++) {
    const [city, regionCode] = westernCities[i]!;
    const slug = city.toLowerCase().replace(/[^a-z]/g, '');
    const keyPair = generateKeyPair();
    const peerKey = await generatePeerKey();
    const [peerPort, apiPort, gossipPort] = ports.slice(i * 3, i * 3 + 3) as [number, number, number];
    writeFileSync(join(dir, 'keys', `${slug}.pem`), writePrivateKeyPem(keyPair), { mode: 0o600 });
    writeFileSync(join(dir, 'keys', `${slug}.p2p`), peerKeyToBase64(peerKey) + '\n', { mode: 0o600 });
    members.push({
      city,
      regionCode,
      publicKey: Buffer.from(keyPair.publicKey).toString('hex'),
      peer: `127.0.0.1:${peerPort}`,
      gossip: `/ip4/127.0.0.1/tcp/${gossipPort}/p2p/${peerIdOfKey(peerKey)}`,
    });
    const config = {
      identity: { key: `keys/${slug}.pem` },
      dataDir: `data/${slug}`,
      alliance: 'alliance.yaml',
      peer: { listen: `127.0.0.1:${peerPort}` },
      api: { listen: `127.0.0.1:${apiPort}` },
      gossip: { listen: `/ip4/127.0.0.1/tcp/${gossipPort}`, key: `keys/${slug}.p2p` },
      metrics: { listen: '127.0.0.1:0' },
      sync: { antiEntropyIntervalMs: init.antiEntropyIntervalMs ?? 1000, beaconIntervalMs: init.beaconIntervalMs ?? 2000 },
    };
    init.tweak?.(i, config);
    const configFile = join(dir, `${slug}.yaml`);
    writeFileSync(configFile, toYaml(config));
    cities.push({
      city,
      nodeId: nodeIdOf(keyPair.publicKey),
      configFile,
      dataDir: join(dir, 'data', slug),
      apiAddress: `127.0.0.1:${apiPort}`,
      peerAddress: `127.0.0.1:${peerPort}`,
    });
  }
  const alliance = { name: 'Western Cities Trading Alliance', freshnessBudgetMs: init.freshnessBudgetMs ?? 30_000, members };
  writeFileSync(join(dir, 'alliance.yaml'), toYaml(alliance));
  return { dir, cities };
}

export interface NodeProcess {
  readonly files: CityFiles;
  readonly child: ChildProcess;
  /** stderr of the process so far, for diagnostics. */
  readonly log: () => string;
  /** SIGTERM and wait for exit (SIGKILL after a grace period). */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash, nothing finished. */
  kill(): Promise<void>;
}

/** Starts one node process and waits for its ready line. */
export function startNodeProcess(files: CityFiles, readyTimeoutMs = 30_000): Promise<NodeProcess> {
  const child = spawn(process.execPath, [cliPath, 'node', 'start', '--config', files.configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OTEL_LOGS_EXPORTER: 'none' },
  });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  const waitExit = async (graceMs: number) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  const handle: NodeProcess = {
    files,
    child,
    log: () => stderr,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return waitExit(10_000);
    },
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => {
      void handle.kill();
      fail(new Error(`${files.city} not ready after ${readyTimeoutMs} ms:\n${stderr}`));
    }, readyTimeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes(readyMarker)) {
        clearTimeout(timer);
        ok(handle);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`${files.city} exited with ${code} before it was ready:\n${stderr}`));
    });
  });
}

export interface LocalAlliance {
  readonly dir: string;
  readonly cities: CityFiles[];
  readonly nodes: Array<NodeProcess | undefined>;
  /** (Re)starts city i. */
  start(i: number): Promise<NodeProcess>;
  /** Stops every node and removes the directory when it was a temporary one. */
  stop(): Promise<void>;
}

const live = new Set<LocalAlliance>();
// A demo interrupted by Ctrl-C must not leave node processes behind.
process.once('exit', () => {
  for (const alliance of live) for (const node of alliance.nodes) node?.child.kill('SIGKILL');
});

export async function startLocalAlliance(init: LocalAllianceInit): Promise<LocalAlliance> {
  const { dir, cities } = await writeLocalAlliance(init);
  const nodes: Array<NodeProcess | undefined> = cities.map(() => undefined);
  const alliance: LocalAlliance = {
    dir,
    cities,
    nodes,
    start: async (i) => (nodes[i] = await startNodeProcess(cities[i]!)),
    stop: async () => {
      await Promise.all(nodes.map((n) => n?.stop()));
      live.delete(alliance);
      if (!init.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(alliance);
  try {
    await Promise.all(cities.map((_, i) => alliance.start(i)));
  } catch (error) {
    await alliance.stop();
    throw error;
  }
  return alliance;
}
