import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, parseDocument } from 'yaml';
import { writePrivateKeyPem } from '../federation/crypto/pem.js';
import { generateKeyPair, nodeIdOf } from '../federation/crypto/sm2.js';
import { connectApi, type ApiClient } from '../node/api/client.js';
import { commands } from '../node/cli/commands.js';
import { loadAlliance, loadNodeConfig, type NodeConfig } from '../node/config.js';
import { generatePeerKey, peerIdOfKey, peerKeyToBase64 } from '../node/gossip.js';
import { freePorts, startNodeProcess, type CityFiles, type NodeProcess } from '../node/local-alliance.js';

// deploy/ stays true to what the node accepts. Docker and Kubernetes do not run
// here, so their files are parsed and cross-checked against the node configs
// they carry and the CLI; the example configs themselves are run as plain node
// processes on 127.0.0.1 (bin/tongxing.js from dist/: `make test` builds first).

/** Parsed YAML: untyped. */
type Doc = Record<string, any>;

const root = fileURLToPath(new URL('..', import.meta.url));
const deploy = join(root, 'deploy');
const read = (path: string) => readFileSync(join(deploy, path), 'utf8');
const cities = ['kunming', 'guiyang', 'nanning'] as const;
/** The node's conventional ports, as the Dockerfile, compose and Kubernetes expose them. */
const standardPorts = { peer: 7400, api: 7401, gossip: 7402, metrics: 9464 } as const;
const configDir = '/etc/tongxing';
const configPath = `${configDir}/node.yaml`;
const dataVolume = '/var/lib/tongxing';

const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tongxing-deploy-'));
  temps.push(dir);
  return dir;
}

/** Loads a node config given as text, as if it lived at `at` (relative paths resolve from there). */
function loadConfigText(text: string, at = configPath): NodeConfig {
  const dir = tempDir();
  const file = join(dir, posix.basename(at));
  writeFileSync(file, text);
  const config = loadNodeConfig(file);
  // Re-root the resolved paths from the temp dir onto where the file is mounted.
  const rebase = (p: string) => (p.startsWith(dir + '/') ? posix.join(posix.dirname(at), relative(dir, p)) : p);
  return { ...config, keyFile: rebase(config.keyFile), allianceFile: rebase(config.allianceFile), gossipKeyFile: rebase(config.gossipKeyFile), dataDir: rebase(config.dataDir) };
}

function portsOf(config: NodeConfig): Record<keyof typeof standardPorts, number> {
  const port = (hostPort: string) => Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
  return {
    peer: port(config.peerListen),
    api: port(config.apiListen),
    gossip: Number(/\/tcp\/(\d+)$/.exec(config.gossipListen)?.[1]),
    metrics: port(config.metricsListen),
  };
}

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFilesUnder(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

/** The Dockerfile's instructions (continuations joined), the final stage separately. */
function dockerfile() {
  const lines = read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [, op, args] = /^(\S+)\s+(.*)$/.exec(l)!;
      return { op: op!.toUpperCase(), args: args! };
    });
  const stages = lines.filter((l) => l.op === 'FROM').map((l) => l.args);
  const lastFrom = lines.map((l) => l.op).lastIndexOf('FROM');
  const final = lines.slice(lastFrom);
  const one = (op: string) => final.filter((l) => l.op === op).map((l) => l.args);
  return { lines, stages, final, one };
}

/** The CLI command a token list names, and whether every `--flag` it passes is one of its options. */
function cliAccepts(argv: readonly string[]): boolean {
  const command = commands.find((c) => c.path.every((p, i) => argv[i] === p));
  if (!command) return false;
  const flags = argv.slice(command.path.length).filter((a) => a.startsWith('--')).map((a) => a.slice(2));
  return flags.every((f) => f in command.options);
}

const nodeConfigs = new Map<string, NodeConfig>();

afterAll(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('deploy files', () => {
  it('every YAML file under deploy/ parses (multi-document files too)', () => {
    const files = yamlFilesUnder(deploy);
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const file of files) {
      for (const doc of parseAllDocuments(readFileSync(file, 'utf8'), { merge: true })) {
        expect(doc.errors.map((e) => e.message), relative(root, file)).toEqual([]);
        expect(doc.warnings.map((e) => e.message), relative(root, file)).toEqual([]);
      }
    }
  });

  it('the host example configs load with the standard ports and the alliance fills in', () => {
    for (const city of cities) {
      const config = loadConfigText(read(`config/${city}.yaml`));
      nodeConfigs.set(`config/${city}`, config);
      expect(portsOf(config), city).toEqual(standardPorts);
      expect(config.dataDir.startsWith(`${dataVolume}/`), city).toBe(true);
      expect(config.keyFile).toBe(`${configDir}/keys/${city}.pem`);
      expect(config.gossipKeyFile).toBe(`${configDir}/keys/${city}.p2p`);
      expect(config.allianceFile).toBe(`${configDir}/alliance.yaml`);
    }
    // With its placeholders filled, the example alliance is valid and names the three cities.
    let text = read('config/alliance.yaml');
    for (const city of cities) {
      const tag = city.toUpperCase();
      text = text.replace(`PUBLIC_KEY_HEX_${tag}`, Buffer.from(generateKeyPair().publicKey).toString('hex')).replace(`PEER_ID_${tag}`, '12D3KooWExample');
    }
    expect(text).not.toMatch(/PUBLIC_KEY_HEX_|PEER_ID_/);
    const file = join(tempDir(), 'alliance.yaml');
    writeFileSync(file, text);
    const alliance = loadAlliance(file);
    expect(alliance.members.map((m) => m.city.toLowerCase())).toEqual([...cities]);
    for (const m of alliance.members) {
      const slug = m.city.toLowerCase();
      expect(m.endpoints).toEqual([`tongxing.${slug}.example:${standardPorts.peer}`]);
      expect(m.gossip.startsWith(`/dns4/tongxing.${slug}.example/tcp/${standardPorts.gossip}/p2p/`)).toBe(true);
    }
  });

  it('the Dockerfile builds what tsc needs, runs `node start --config` as tongxing and exposes the node ports', () => {
    const { stages, final, one, lines } = dockerfile();
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(lines.find((l) => l.op === 'ARG' && l.args.startsWith('NODE_IMAGE='))?.args).toBe('NODE_IMAGE=node:20-bookworm-slim');
    // The build stage copies every folder tsconfig.build.json compiles, then compiles.
    const include = (JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as { include: string[] }).include;
    const copies = lines.filter((l) => l.op === 'COPY').map((l) => l.args);
    for (const dir of include) expect(copies, dir).toContain(`${dir} ./${dir}`);
    expect(lines.some((l) => l.op === 'RUN' && l.args.includes('npm ci') && !l.args.includes('--omit=dev'))).toBe(true);
    expect(lines.some((l) => l.op === 'RUN' && l.args === 'npx tsc -p tsconfig.build.json')).toBe(true);
    // The runtime stage: production dependencies, dist/ and bin/, no sources.
    expect(final.some((l) => l.op === 'RUN' && l.args.includes('npm ci --omit=dev'))).toBe(true);
    expect(one('COPY')).toEqual(['package.json package-lock.json ./', '--from=build /src/dist ./dist', 'bin ./bin']);
    expect(one('USER')).toEqual(['tongxing:tongxing']);
    expect(one('VOLUME')).toEqual([`["${dataVolume}"]`]);
    expect(one('EXPOSE')[0]!.split(/\s+/).map(Number).sort()).toEqual(Object.values(standardPorts).sort());
    expect(one('HEALTHCHECK')[0]).toContain(`http://127.0.0.1:${standardPorts.metrics}/metrics`);
    const entrypoint = JSON.parse(one('ENTRYPOINT')[0]!) as string[];
    const cmd = JSON.parse(one('CMD')[0]!) as string[];
    expect(entrypoint).toEqual(['node', 'bin/tongxing.js']);
    expect(existsSync(join(root, entrypoint[1]!))).toBe(true);
    expect(cmd).toEqual(['node', 'start', '--config', configPath]);
    expect(cliAccepts(cmd)).toBe(true);
    expect(read('Dockerfile')).toContain('WORKDIR /opt/tongxing');
  });

  it('compose runs the three cities from the Dockerfile with their configs, keys and volumes, and Prometheus scrapes them', () => {
    const compose = parse(read('compose.yaml'), { merge: true }) as Doc;
    expect(Object.keys(compose.services).sort()).toEqual([...cities, 'prometheus'].sort());
    const generated = new Set(['compose/alliance.yaml', ...cities.flatMap((c) => [`compose/keys/${c}.pem`, `compose/keys/${c}.p2p`])]);
    for (const city of cities) {
      const service = compose.services[city] as Doc;
      expect(service.build).toEqual({ context: '..', dockerfile: 'deploy/Dockerfile' });
      expect(existsSync(join(deploy, '..', service.build.dockerfile))).toBe(true);
      const mounts = (service.volumes as string[]).map((v) => {
        const [source, target, mode] = v.split(':') as [string, string, string | undefined];
        return { source, target, mode };
      });
      const byTarget = new Map(mounts.map((m) => [m.target, m]));
      expect(byTarget.get(configPath)?.source).toBe(`./compose/${city}.yaml`);
      const config = loadConfigText(read(`compose/${city}.yaml`));
      nodeConfigs.set(`compose/${city}`, config);
      expect(portsOf(config)).toEqual(standardPorts);
      expect(config.metricsListen).toBe(`0.0.0.0:${standardPorts.metrics}`);
      // Everything the config names is mounted (read-only), and the store is on the named volume.
      for (const path of [config.keyFile, config.gossipKeyFile, config.allianceFile]) {
        expect(byTarget.get(path)?.mode, `${city}: ${path}`).toBe('ro');
      }
      const data = byTarget.get(dataVolume)!;
      expect(data.source).toBe(`${city}-data`);
      expect(compose.volumes).toHaveProperty(data.source);
      expect(config.dataDir === dataVolume || config.dataDir.startsWith(`${dataVolume}/`)).toBe(true);
      // Host files exist, or init-alliance.mjs makes them (checked below).
      for (const { source } of mounts.filter((m) => m.source.startsWith('./'))) {
        const path = posix.normalize(source);
        expect(existsSync(join(deploy, path)) || generated.has(path), `${city}: ${source}`).toBe(true);
      }
      // Peer, gossip and metrics on the compose network; the client API published on the host's loopback.
      const containerPorts = [...(service.expose as string[]).map(Number), ...(service.ports as string[]).map((p) => Number(p.split(':').at(-1)))];
      expect(containerPorts.sort()).toEqual(Object.values(portsOf(config)).sort());
      for (const p of service.ports as string[]) expect(p.startsWith('127.0.0.1:'), p).toBe(true);
    }
    const prometheus = compose.services.prometheus as Doc;
    expect(prometheus.image).toMatch(/^prom\/prometheus:/);
    for (const v of prometheus.volumes as string[]) {
      const source = v.split(':')[0]!;
      if (source.startsWith('./')) expect(existsSync(join(deploy, source)), source).toBe(true);
    }
    const scrape = parse(read('prometheus.yml')) as Doc;
    const targets = (scrape.scrape_configs as Doc[]).flatMap((job) => (job.static_configs as Doc[]).flatMap((s) => s.targets as string[]));
    expect(targets.sort()).toEqual(cities.map((c) => `${c}:${portsOf(nodeConfigs.get(`compose/${c}`)!).metrics}`).sort());
    // Rule files named in prometheus.yml are mounted where it says.
    for (const rules of scrape.rule_files as string[]) {
      expect((prometheus.volumes as string[]).some((v) => v.split(':')[1] === rules), rules).toBe(true);
    }
  });

  it('init-alliance.mjs makes the keys and the alliance file compose mounts, and keeps keys on a rerun', async () => {
    const out = tempDir();
    const run = () => promisify(execFile)(process.execPath, [join(deploy, 'init-alliance.mjs'), '--out', out, '--host', '{city}']);
    const first = (await run()).stdout.trim().split('\n').map((l) => JSON.parse(l) as { city: string; nodeId: string; peerId: string });
    expect(first.map((c) => c.city.toLowerCase())).toEqual([...cities]);
    for (const city of cities) {
      expect(statSync(join(out, 'keys', `${city}.pem`)).mode & 0o077).toBe(0);
      expect(statSync(join(out, 'keys', `${city}.p2p`)).mode & 0o077).toBe(0);
    }
    const alliance = loadAlliance(join(out, 'alliance.yaml'));
    for (const [i, city] of cities.entries()) {
      const ports = portsOf(nodeConfigs.get(`compose/${city}`) ?? loadConfigText(read(`compose/${city}.yaml`)));
      const member = alliance.members[i]!;
      expect(member.nodeId).toBe(first[i]!.nodeId);
      expect(member.endpoints).toEqual([`${city}:${ports.peer}`]); // compose service name = host name
      expect(member.gossip).toBe(`/dns4/${city}/tcp/${ports.gossip}/p2p/${first[i]!.peerId}`);
    }
    const second = (await run()).stdout.trim().split('\n').map((l) => JSON.parse(l) as { nodeId: string; peerId: string });
    expect(second.map((c) => [c.nodeId, c.peerId])).toEqual(first.map((c) => [c.nodeId, c.peerId]));
  });

  it('each Kubernetes city has a one-replica StatefulSet whose ports, probes, mounts and Services match its node.yaml', () => {
    const { one } = dockerfile();
    const hostAlliance = parse(read('config/alliance.yaml')) as Doc;
    for (const city of cities) {
      const docs = parseAllDocuments(read(`kubernetes/${city}.yaml`)).map((d) => d.toJS() as Doc);
      const ofKind = (kind: string) => docs.filter((d) => d.kind === kind);
      expect(docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Secret', 'Service', 'Service', 'StatefulSet']);
      const configMap = ofKind('ConfigMap')[0]!;
      const secret = ofKind('Secret')[0]!;
      const set = ofKind('StatefulSet')[0]!;
      const config = loadConfigText(configMap.data['node.yaml'] as string);
      nodeConfigs.set(`kubernetes/${city}`, config);
      const ports = portsOf(config);
      expect(ports).toEqual(standardPorts);
      expect(parse(configMap.data['alliance.yaml'] as string), `${city}: the same alliance as deploy/config`).toEqual(hostAlliance);

      expect(set.spec.replicas).toBe(1);
      const pod = set.spec.template.spec as Doc;
      expect(set.spec.selector.matchLabels).toEqual(set.spec.template.metadata.labels);
      expect(pod.securityContext.runAsUser).toBe(10001);
      const container = pod.containers[0] as Doc;
      expect(container.args).toEqual(JSON.parse(one('CMD')[0]!));
      const containerPort = new Map<string, number>((container.ports as Doc[]).map((p) => [p.name as string, p.containerPort as number]));
      expect(Object.fromEntries(containerPort)).toEqual(ports);
      const resolve = (port: string | number) => (typeof port === 'number' ? port : containerPort.get(port));
      expect(resolve(container.readinessProbe.tcpSocket.port)).toBe(ports.api);
      for (const probe of [container.livenessProbe, container.startupProbe] as Doc[]) {
        expect(probe.httpGet.path).toBe('/metrics');
        expect(resolve(probe.httpGet.port)).toBe(ports.metrics);
      }

      // Data on the claim template; node.yaml, alliance.yaml and keys where the config looks for them.
      const mounts = new Map((container.volumeMounts as Doc[]).map((m) => [m.name as string, m]));
      expect(mounts.get('data')?.mountPath).toBe(dataVolume);
      expect((set.spec.volumeClaimTemplates as Doc[]).map((t) => t.metadata.name)).toEqual(['data']);
      expect(config.dataDir === dataVolume || config.dataDir.startsWith(`${dataVolume}/`)).toBe(true);
      expect(mounts.get('config')).toMatchObject({ mountPath: configDir, readOnly: true });
      const sources = (pod.volumes as Doc[]).find((v) => v.name === 'config')!.projected.sources as Doc[];
      const files = new Map<string, Doc>();
      for (const source of sources) {
        const kind = source.configMap ? 'configMap' : 'secret';
        for (const item of source[kind].items as Doc[]) files.set(posix.join(configDir, item.path as string), { kind, name: source[kind].name, key: item.key });
      }
      expect(files.get(configPath)).toEqual({ kind: 'configMap', name: configMap.metadata.name, key: 'node.yaml' });
      expect(files.get(config.allianceFile)).toEqual({ kind: 'configMap', name: configMap.metadata.name, key: 'alliance.yaml' });
      for (const keyFile of [config.keyFile, config.gossipKeyFile]) {
        const file = files.get(keyFile);
        expect(file, `${city}: ${keyFile}`).toMatchObject({ kind: 'secret', name: secret.metadata.name });
        expect(Object.keys(secret.stringData)).toContain(file!.key);
      }

      // Services: the governing one (API, metrics; ClusterIP) and the peer-facing one (peer, gossip).
      const services = ofKind('Service');
      const governing = services.find((s) => s.metadata.name === set.spec.serviceName)!;
      expect(governing.spec.type).toBe('ClusterIP');
      const peerFacing = services.find((s) => s !== governing)!;
      for (const [service, names] of [[governing, ['api', 'metrics']], [peerFacing, ['peer', 'gossip']]] as const) {
        expect(service.spec.selector).toEqual(set.spec.template.metadata.labels);
        expect((service.spec.ports as Doc[]).map((p) => p.name)).toEqual(names);
        for (const p of service.spec.ports as Doc[]) {
          expect(p.port, `${city} ${p.name}`).toBe(ports[p.name as keyof typeof ports]);
          expect(resolve(p.targetPort as string | number)).toBe(ports[p.name as keyof typeof ports]);
        }
      }
    }
  });

  it('the systemd unit starts `node start --config` from the install and is hardened', () => {
    const unit = new Map<string, string[]>();
    for (const line of read('systemd/tongxing.service').split('\n')) {
      const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
      if (match) unit.set(match[1]!, [...(unit.get(match[1]!) ?? []), match[2]!]);
    }
    const value = (key: string) => unit.get(key)?.at(-1);
    const exec = value('ExecStart')!.split(/\s+/);
    expect(exec.slice(0, 2)).toEqual(['/usr/bin/node', '/opt/tongxing/bin/tongxing.js']);
    expect(exec.slice(2)).toEqual(['node', 'start', '--config', configPath]);
    expect(cliAccepts(exec.slice(2))).toBe(true);
    expect(value('User')).toBe('tongxing');
    expect(value('WorkingDirectory')).toBe('/opt/tongxing');
    // The example host configs keep their store inside the one writable path.
    expect(value('ReadWritePaths')).toBe(dataVolume);
    for (const city of cities) expect(loadConfigText(read(`config/${city}.yaml`)).dataDir.startsWith(`${dataVolume}/`)).toBe(true);
    expect({
      NoNewPrivileges: value('NoNewPrivileges'),
      ProtectSystem: value('ProtectSystem'),
      ProtectHome: value('ProtectHome'),
      PrivateTmp: value('PrivateTmp'),
      PrivateDevices: value('PrivateDevices'),
      RestrictAddressFamilies: value('RestrictAddressFamilies'),
      LockPersonality: value('LockPersonality'),
      RestrictRealtime: value('RestrictRealtime'),
      SystemCallArchitectures: value('SystemCallArchitectures'),
      CapabilityBoundingSet: value('CapabilityBoundingSet'),
      Restart: value('Restart'),
      KillSignal: value('KillSignal'),
      TimeoutStopSec: value('TimeoutStopSec'),
    }).toEqual({
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
      LockPersonality: 'yes',
      RestrictRealtime: 'yes',
      SystemCallArchitectures: 'native',
      CapabilityBoundingSet: '',
      Restart: 'on-failure',
      KillSignal: 'SIGTERM',
      TimeoutStopSec: '30',
    });
    // V8's JIT needs writable-then-executable memory.
    expect(value('MemoryDenyWriteExecute') ?? 'no').toBe('no');
  });
});

describe('the example configs run as processes on loopback', () => {
  const nodes: NodeProcess[] = [];
  const clients: ApiClient[] = [];

  afterAll(async () => {
    for (const client of clients.splice(0)) client.close();
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
  });

  it('three cities start from deploy/config with keys and alliance filled in and see each other', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'keys'));
    const ports = await freePorts(cities.length * 4);
    let allianceText = read('config/alliance.yaml');
    const files: CityFiles[] = [];
    const metricsPorts: number[] = [];
    for (const [i, city] of cities.entries()) {
      const [peer, api, gossip, metrics] = ports.slice(i * 4, i * 4 + 4) as [number, number, number, number];
      metricsPorts.push(metrics);
      // The example config, with only addresses and dataDir changed (comments and the rest kept).
      const doc = parseDocument(read(`config/${city}.yaml`));
      doc.setIn(['peer', 'listen'], `127.0.0.1:${peer}`);
      doc.setIn(['api', 'listen'], `127.0.0.1:${api}`);
      doc.setIn(['gossip', 'listen'], `/ip4/127.0.0.1/tcp/${gossip}`);
      doc.setIn(['metrics', 'listen'], `127.0.0.1:${metrics}`);
      doc.set('dataDir', `data/${city}`);
      const configFile = join(dir, `${city}.yaml`);
      writeFileSync(configFile, doc.toString());
      const config = loadNodeConfig(configFile);
      // Keys where the example config expects them.
      const pair = generateKeyPair();
      const peerKey = await generatePeerKey();
      mkdirSync(dirname(config.keyFile), { recursive: true });
      writeFileSync(config.keyFile, writePrivateKeyPem(pair), { mode: 0o600 });
      writeFileSync(config.gossipKeyFile, peerKeyToBase64(peerKey) + '\n', { mode: 0o600 });
      const tag = city.toUpperCase();
      allianceText = allianceText
        .replace(`PUBLIC_KEY_HEX_${tag}`, Buffer.from(pair.publicKey).toString('hex'))
        .replace(`PEER_ID_${tag}`, peerIdOfKey(peerKey))
        .replace(`tongxing.${city}.example:${standardPorts.peer}`, `127.0.0.1:${peer}`)
        .replace(`/dns4/tongxing.${city}.example/tcp/${standardPorts.gossip}/`, `/ip4/127.0.0.1/tcp/${gossip}/`);
      files.push({ city, nodeId: nodeIdOf(pair.publicKey), configFile, dataDir: config.dataDir, apiAddress: `127.0.0.1:${api}`, peerAddress: `127.0.0.1:${peer}` });
    }
    expect(allianceText).not.toMatch(/PUBLIC_KEY_HEX_|PEER_ID_|\.example/);
    writeFileSync(join(dir, 'alliance.yaml'), allianceText);
    expect(loadAlliance(join(dir, 'alliance.yaml')).members).toHaveLength(3);

    const started = await Promise.allSettled(files.map((f) => startNodeProcess(f, 20_000)));
    for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;

    // `tongxing node status` as the API answers it: three members, each in contact with the other two.
    const deadline = Date.now() + 20_000;
    for (const f of files) {
      const client = connectApi(f.apiAddress);
      clients.push(client);
      for (;;) {
        const status = await client.getStatus().catch(() => undefined);
        const others = status?.members.filter((m) => !m.self) ?? [];
        if (status && status.members.length === 3 && others.length === 2 && others.every((m) => m.lastContactMs > 0n)) {
          expect(status.nodeId.toString('hex')).toBe(f.nodeId);
          expect(status.city.toLowerCase()).toBe(f.city);
          break;
        }
        if (Date.now() > deadline) throw new Error(`${f.city} status: ${JSON.stringify(status, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
        await new Promise((ok) => setTimeout(ok, 100));
      }
    }
    // What the image's HEALTHCHECK and the Kubernetes liveness probe ask for.
    for (const port of metricsPorts) {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('tongxing_replication_lag_ms');
    }
    // SIGTERM stops each cleanly (what docker stop, kubectl and systemctl send).
    const stopping = nodes.splice(0);
    const codes = await Promise.all(stopping.map((n) => n.stop()));
    expect(Object.fromEntries(stopping.map((n, i) => [n.files.city, codes[i]]))).toEqual(Object.fromEntries(cities.map((c) => [c, 0])));
  }, 30_000);
});
