import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { GenesisBody, MemberRole, type Genesis, type Member, type RecognitionPolicy } from '../gen/tongxing/records/v1/records.js';
import { writePrivateKeyPem } from '../federation/crypto/pem.js';
import { generateKeyPair, nodeIdOf, type Sm2KeyPair } from '../federation/crypto/sm2.js';
import { allianceIdOf, encodeGenesisBody, signAdmission, signGenesis, withSignature } from '../federation/governance/genesis.js';
import { recogniseEveryList } from '../federation/views/recognition.js';
import { tlsPathFor } from './config.js';
import { genesisToJson, joinRequestToJson } from './genesis-file.js';
import { generateTlsIdentity, writeTlsIdentity } from './peer/tls.js';
import { generatePeerKey, peerIdOfKey, peerKeyToBase64 } from './gossip.js';
import { readyMarker } from './cli/run.js';

// A whole alliance on one machine: keys, genesis and one config per
// city in a fresh directory, each node a separate `tongxing node start`
// process on 127.0.0.1. Used by the demo, the integration tests and the
// benchmarks; everything it starts is stopped by stop(), also on failure.

/** The example alliance (docs/DOMAIN.md, "Administrative divisions"): western cities with GB/T 2260 codes. */
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
  readonly regionCode: string;
  readonly nodeId: string;
  readonly keyFile: string;
  /** Cities beyond the founders: the join request they send the admins (tongxing-join/1). */
  readonly joinRequestFile?: string;
  readonly configFile: string;
  readonly dataDir: string;
  readonly apiAddress: string;
  readonly peerAddress: string;
}

export interface LocalAllianceInit {
  readonly cities: number;
  /** The first `founders` cities sign the genesis (default: all); the others get keys, configs and a join request. */
  readonly founders?: number;
  /** Approvals a proposal needs (default: a majority of the founders). */
  readonly quorum?: number;
  /** CA root certificates (DER) the alliance trusts from the genesis. */
  readonly trustedCaRoots?: readonly Uint8Array[];
  readonly recognition?: RecognitionPolicy;
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

/**
 * Writes keys (SM2, TLS, libp2p), a genesis signed by every founder, and node
 * configs for `cities` members: the files an admin makes with `tongxing
 * keygen` and `tongxing alliance ...` (docs/ALLIANCE.md), made in one step.
 */
export async function writeLocalAlliance(init: LocalAllianceInit): Promise<{ dir: string; cities: CityFiles[]; genesisFile: string }> {
  if (init.cities < 1 || init.cities > westernCities.length) throw new RangeError(`cities must be 1..${westernCities.length}`);
  const founders = init.founders ?? init.cities;
  const dir = init.dir ?? mkdtempSync(join(tmpdir(), 'tongxing-'));
  mkdirSync(join(dir, 'keys'), { recursive: true });
  const ports = await freePorts(init.cities * 3);
  const cities: CityFiles[] = [];
  const identities: Array<{ keyPair: Sm2KeyPair; member: Member }> = [];
  for (let i = 0; i < init.cities; i++) {
    const [city, regionCode] = westernCities[i]!;
    const slug = city.toLowerCase().replace(/[^a-z]/g, '');
    const keyPair = generateKeyPair();
    const nodeId = nodeIdOf(keyPair.publicKey);
    const peerKey = await generatePeerKey();
    const tls = await generateTlsIdentity(`${city} ${nodeId.slice(0, 12)}`);
    const [peerPort, apiPort, gossipPort] = ports.slice(i * 3, i * 3 + 3) as [number, number, number];
    const keyFile = join(dir, 'keys', `${slug}.pem`);
    writeFileSync(keyFile, writePrivateKeyPem(keyPair), { mode: 0o600 });
    writeTlsIdentity(tlsPathFor(keyFile), tls);
    writeFileSync(join(dir, 'keys', `${slug}.p2p`), peerKeyToBase64(peerKey) + '\n', { mode: 0o600 });
    const peerId = peerIdOfKey(peerKey);
    const member: Member = {
      publicKey: Buffer.from(keyPair.publicKey),
      city,
      regionCode,
      endpoints: [`127.0.0.1:${peerPort}`],
      roles: [MemberRole.MEMBER_ROLE_CITY_CENTER, MemberRole.MEMBER_ROLE_ADMIN],
      libp2pPeerId: peerId,
      tlsCertificate: tls.certDer,
      gossipAddresses: [`/ip4/127.0.0.1/tcp/${gossipPort}/p2p/${peerId}`],
    };
    identities.push({ keyPair, member });
    const config = {
      identity: { key: `keys/${slug}.pem` },
      dataDir: `data/${slug}`,
      alliance: 'genesis.json',
      peer: { listen: `127.0.0.1:${peerPort}` },
      api: { listen: `127.0.0.1:${apiPort}` },
      gossip: { listen: `/ip4/127.0.0.1/tcp/${gossipPort}`, key: `keys/${slug}.p2p` },
      metrics: { listen: '127.0.0.1:0' },
      http: { listen: '127.0.0.1:0' }, // the ready line says which port; not every city on 7403
      sync: { antiEntropyIntervalMs: init.antiEntropyIntervalMs ?? 1000, beaconIntervalMs: init.beaconIntervalMs ?? 2000 },
    };
    init.tweak?.(i, config);
    const configFile = join(dir, `${slug}.yaml`);
    writeFileSync(configFile, toYaml(config));
    cities.push({
      city,
      regionCode,
      nodeId,
      keyFile,
      configFile,
      dataDir: join(dir, 'data', slug),
      apiAddress: `127.0.0.1:${apiPort}`,
      peerAddress: `127.0.0.1:${peerPort}`,
    });
  }
  const body: GenesisBody = {
    allianceName: 'Western Cities Trading Alliance',
    founders: identities.slice(0, founders).map((f) => f.member),
    quorum: init.quorum ?? Math.floor(founders / 2) + 1,
    trustedCaRoots: (init.trustedCaRoots ?? []).map((r) => Buffer.from(r)),
    recognition: init.recognition ?? recogniseEveryList,
    freshnessBudgetMs: BigInt(init.freshnessBudgetMs ?? 30_000),
    createdAtMs: BigInt(Date.now()),
  };
  const bytes = encodeGenesisBody(body);
  let genesis: Genesis = { body: Buffer.from(bytes), signatures: [] };
  for (const founder of identities.slice(0, founders)) genesis = withSignature(genesis, signGenesis(bytes, founder.keyPair));
  const genesisFile = join(dir, 'genesis.json');
  writeFileSync(genesisFile, genesisToJson(genesis));
  const allianceId = allianceIdOf(bytes);
  for (let i = founders; i < init.cities; i++) {
    const { keyPair, member } = identities[i]!;
    const joinRequestFile = join(dir, `${cities[i]!.city.toLowerCase().replace(/[^a-z]/g, '')}.join.json`);
    writeFileSync(joinRequestFile, joinRequestToJson(allianceId, { member, possessionSignature: signAdmission(allianceId, member, keyPair) }));
    cities[i] = { ...cities[i]!, joinRequestFile };
  }
  return { dir, cities, genesisFile };
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
  readonly genesisFile: string;
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

/** Writes a local alliance and starts its founders (the others start with `start(i)` once admitted). */
export async function startLocalAlliance(init: LocalAllianceInit): Promise<LocalAlliance> {
  const { dir, cities, genesisFile } = await writeLocalAlliance(init);
  const founders = init.founders ?? init.cities;
  const nodes: Array<NodeProcess | undefined> = cities.map(() => undefined);
  const alliance: LocalAlliance = {
    dir,
    genesisFile,
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
  // Every start settles before any failure is reported, so a node that came up beside a failed one is stopped too.
  const started = await Promise.allSettled(cities.slice(0, founders).map((_, i) => alliance.start(i)));
  const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) {
    await alliance.stop();
    throw failed.reason;
  }
  return alliance;
}
