import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, parseDocument } from 'yaml';
import { MemberRole } from '../gen/tongxing/records/v1/records.js';
import { readPrivateKeyPem } from '../federation/crypto/pem.js';
import { nodeIdOf } from '../federation/crypto/sm2.js';
import { recogniseEveryList } from '../federation/views/recognition.js';
import { connectApi, type ApiClient } from '../node/api/client.js';
import { commands } from '../node/cli/commands.js';
import { loadNodeConfig, type NodeConfig } from '../node/config.js';
import { loadGenesis, readMemberFile } from '../node/genesis-file.js';
import { peerIdOfKey, peerKeyFromBase64 } from '../node/gossip.js';
import { checkHealth } from '../node/grpc-standard.js';
import { apiChannel } from '../node/api/client.js';

/** The client API takes mutual TLS only: health checks present the admin credential each node published. */
const secured = (address: string) => {
  const channel = apiChannel(address);
  return { credentials: channel.credentials, channelOptions: channel.options };
};
import { freePorts, startNodeProcess, type CityFiles, type NodeProcess } from '../node/local-alliance.js';
import { readTlsIdentity } from '../node/peer/tls.js';

// deploy/ stays true to what the node accepts. Docker and Kubernetes do not run
// here, so their files are parsed and cross-checked against the node configs
// they carry and the CLI; deploy/init-alliance.mjs is run and its genesis
// checked, and the example configs themselves are run as plain node processes
// on 127.0.0.1 from a genesis it made (bin/tongxing.js and init-alliance.mjs
// run from dist/: `make test` builds first).

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
const regionCodes = { kunming: '530100', guiyang: '520100', nanning: '450100' } as const;
/** What init-alliance.mjs writes into its --out directory (compose mounts them from deploy/compose/). */
const generatedFiles = ['genesis.json', ...cities.flatMap((c) => [`keys/${c}.pem`, `keys/${c}.pub.pem`, `keys/${c}.tls.pem`, `keys/${c}.p2p`])];

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
  return {
    ...config,
    keyFile: rebase(config.keyFile),
    tlsFile: rebase(config.tlsFile),
    allianceFile: rebase(config.allianceFile),
    gossipKeyFile: rebase(config.gossipKeyFile),
    dataDir: rebase(config.dataDir),
  };
}

/** One JSON line per city from init-alliance.mjs. */
interface InitCity {
  city: string;
  regionCode: string;
  nodeId: string;
  publicKey: string;
  peerId: string;
  endpoint: string;
  gossip: string;
  keyFile: string;
  publicKeyFile: string;
  tlsFile: string;
  gossipKeyFile: string;
}

/** Runs deploy/init-alliance.mjs (from dist/); the city lines and the genesis line of its output, or the raw stdout with --city. */
async function initAlliance(args: readonly string[]) {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(deploy, 'init-alliance.mjs'), ...args], { timeout: 30_000 });
  const lines = args.includes('--city') ? [] : stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    stdout,
    stderr,
    cities: lines.filter((l) => 'city' in l) as unknown as InitCity[],
    genesis: lines.find((l) => 'genesisFile' in l) as { genesisFile: string; allianceId: string; kept: boolean } | undefined,
  };
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

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}
const yamlFilesUnder = (dir: string) => filesUnder(dir).filter((f) => /\.ya?ml$/.test(f));

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

  it('the host example configs load with the standard ports, and name the genesis and the three key files', () => {
    for (const city of cities) {
      const config = loadConfigText(read(`config/${city}.yaml`));
      nodeConfigs.set(`config/${city}`, config);
      expect(portsOf(config), city).toEqual(standardPorts);
      expect(config.dataDir.startsWith(`${dataVolume}/`), city).toBe(true);
      expect(config.keyFile).toBe(`${configDir}/keys/${city}.pem`);
      expect(config.tlsFile).toBe(`${configDir}/keys/${city}.tls.pem`);
      expect(config.gossipKeyFile).toBe(`${configDir}/keys/${city}.p2p`);
      expect(config.allianceFile).toBe(`${configDir}/genesis.json`);
    }
  });

  it('nothing under deploy/ names the static alliance file any more (nodes start from a signed genesis)', () => {
    expect(existsSync(join(deploy, 'config', 'alliance.yaml'))).toBe(false);
    for (const file of filesUnder(deploy)) {
      const text = readFileSync(file, 'utf8');
      expect(text.includes('alliance.yaml') || /PUBLIC_KEY_HEX_|PEER_ID_/.test(text), relative(root, file)).toBe(false);
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
    // The runtime stage: production dependencies, dist/ and bin/, no sources (and no proto/: dist/gen/ carries the descriptors).
    expect(final.some((l) => l.op === 'RUN' && l.args.includes('npm ci --omit=dev'))).toBe(true);
    expect(one('COPY')).toEqual(['package.json package-lock.json ./', '--from=build /src/dist ./dist', 'bin ./bin']);
    expect(one('USER')).toEqual(['tongxing:tongxing']);
    expect(one('VOLUME')).toEqual([`["${dataVolume}"]`]);
    expect(one('EXPOSE')[0]!.split(/\s+/).map(Number).sort()).toEqual(Object.values(standardPorts).sort());
    // The healthcheck asks grpc.health.v1 on the client API through the CLI in the image.
    const check = JSON.parse(one('HEALTHCHECK')[0]!.replace(/^.*?\bCMD\s+/, '')) as string[];
    expect(check.slice(0, 2)).toEqual(['node', 'bin/tongxing.js']);
    expect(check.slice(2, 4)).toEqual(['node', 'health']);
    expect(cliAccepts(check.slice(2))).toBe(true);
    expect(check[check.indexOf('--node') + 1]).toBe(`127.0.0.1:${standardPorts.api}`);
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
      expect(config.allianceFile).toBe(`${configDir}/genesis.json`);
      for (const path of [config.keyFile, config.tlsFile, config.gossipKeyFile, config.allianceFile]) {
        expect(byTarget.get(path)?.mode, `${city}: ${path}`).toBe('ro');
      }
      expect(byTarget.get(config.tlsFile)?.source).toBe(`./compose/keys/${city}.tls.pem`);
      const data = byTarget.get(dataVolume)!;
      expect(data.source).toBe(`${city}-data`);
      expect(compose.volumes).toHaveProperty(data.source);
      expect(config.dataDir === dataVolume || config.dataDir.startsWith(`${dataVolume}/`)).toBe(true);
      // Host files exist, or init-alliance.mjs --out deploy/compose makes them (checked below).
      for (const { source } of mounts.filter((m) => m.source.startsWith('./'))) {
        const path = posix.normalize(source);
        const generated = path.startsWith('compose/') && generatedFiles.includes(path.slice('compose/'.length));
        expect(existsSync(join(deploy, path)) || generated, `${city}: ${source}`).toBe(true);
      }
      // Peer, gossip and metrics on the compose network; the client API published on the host's loopback.
      const containerPorts = [...(service.expose as string[]).map(Number), ...(service.ports as string[]).map((p) => Number(p.split(':').at(-1)))];
      expect(containerPorts.sort()).toEqual(Object.values(portsOf(config)).sort());
      for (const p of service.ports as string[]) expect(p.startsWith('127.0.0.1:'), p).toBe(true);
    }
    // The generated keys and genesis stay out of git and out of the image.
    const ignored = read('compose/.gitignore').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['keys/', 'genesis.json']));
    const dockerIgnored = read('Dockerfile.dockerignore').split('\n');
    expect(dockerIgnored).toEqual(expect.arrayContaining(['**/keys', '**/*.pem', '**/*.p2p', 'deploy/compose/genesis.json']));
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

  it('init-alliance.mjs makes every city\'s keys and a final genesis with the compose endpoints, as compose mounts them', async () => {
    const out = tempDir();
    const { cities: made, genesis: summary } = await initAlliance(['--out', out, '--host', '{city}']);
    expect(made.map((c) => c.city.toLowerCase())).toEqual([...cities]);
    // Every file compose mounts from deploy/compose/ is made; the secrets are 0600.
    for (const file of generatedFiles) expect(existsSync(join(out, file)), file).toBe(true);
    for (const city of cities) {
      for (const secret of [`${city}.pem`, `${city}.tls.pem`, `${city}.p2p`]) {
        expect(statSync(join(out, 'keys', secret)).mode & 0o777, secret).toBe(0o600);
      }
    }
    // A final genesis (loadGenesis checks the body and every founder's signature).
    const genesis = loadGenesis(join(out, 'genesis.json'));
    expect(summary).toEqual({ genesisFile: join(out, 'genesis.json'), allianceId: genesis.allianceId.toString('hex'), kept: false });
    const { body } = genesis;
    expect(body.founders.map((f) => [f.city.toLowerCase(), f.regionCode])).toEqual(cities.map((c) => [c, regionCodes[c]]));
    expect(genesis.genesis.signatures).toHaveLength(cities.length);
    expect(body.quorum).toBe(2);
    expect(body.recognition).toEqual(recogniseEveryList);
    expect(body.trustedCaRoots).toEqual([]);
    for (const [i, city] of cities.entries()) {
      const founder = body.founders[i]!;
      const line = made[i]!;
      // The founder record is made of this city's key files.
      const keyPair = readPrivateKeyPem(readFileSync(join(out, 'keys', `${city}.pem`), 'utf8'));
      expect(Buffer.from(founder.publicKey).equals(Buffer.from(keyPair.publicKey))).toBe(true);
      expect(nodeIdOf(founder.publicKey)).toBe(line.nodeId);
      expect(readFileSync(join(out, 'keys', `${city}.pub.pem`), 'utf8')).toContain('-----BEGIN PUBLIC KEY-----');
      expect(Buffer.from(founder.tlsCertificate).equals(readTlsIdentity(join(out, 'keys', `${city}.tls.pem`)).certDer)).toBe(true);
      const peerId = peerIdOfKey(peerKeyFromBase64(readFileSync(join(out, 'keys', `${city}.p2p`), 'utf8')));
      expect(founder.libp2pPeerId).toBe(peerId);
      expect(line.peerId).toBe(peerId);
      expect(founder.roles).toEqual([MemberRole.MEMBER_ROLE_CITY_CENTER, MemberRole.MEMBER_ROLE_ADMIN]);
      // Endpoints: --host '{city}' (the compose service name) and the ports of the compose node files.
      const ports = portsOf(nodeConfigs.get(`compose/${city}`) ?? loadConfigText(read(`compose/${city}.yaml`)));
      expect(founder.endpoints).toEqual([`${city}:${ports.peer}`]);
      expect(founder.gossipAddresses).toEqual([`/dns4/${city}/tcp/${ports.gossip}/p2p/${peerId}`]);
      expect([line.endpoint, line.gossip]).toEqual([founder.endpoints[0], founder.gossipAddresses[0]]);
    }
    // The host example config, put in the --out directory as node.yaml, finds every file it names.
    for (const city of cities) {
      writeFileSync(join(out, 'node.yaml'), read(`config/${city}.yaml`));
      const config = loadNodeConfig(join(out, 'node.yaml'));
      for (const file of [config.keyFile, config.tlsFile, config.gossipKeyFile, config.allianceFile]) expect(existsSync(file), `${city}: ${file}`).toBe(true);
    }
    rmSync(join(out, 'node.yaml'));
  });

  it('init-alliance.mjs keeps keys and genesis on a rerun; other hosts give a new genesis with the same node ids', async () => {
    const out = tempDir();
    const first = await initAlliance(['--out', out, '--host', '{city}']);
    const genesisText = readFileSync(join(out, 'genesis.json'), 'utf8');
    const keyTexts = generatedFiles.filter((f) => f.startsWith('keys/')).map((f) => readFileSync(join(out, f), 'utf8'));

    const second = await initAlliance(['--out', out, '--host', '{city}']);
    expect(second.cities.map((c) => [c.nodeId, c.peerId])).toEqual(first.cities.map((c) => [c.nodeId, c.peerId]));
    expect(second.genesis).toEqual({ ...first.genesis, kept: true });
    expect(readFileSync(join(out, 'genesis.json'), 'utf8')).toBe(genesisText);
    expect(generatedFiles.filter((f) => f.startsWith('keys/')).map((f) => readFileSync(join(out, f), 'utf8'))).toEqual(keyTexts);

    // Other endpoints are another genesis (the body is signed): a new alliance id, said on stderr; the keys stay.
    const moved = await initAlliance(['--out', out, '--host', 'tongxing.{city}.example']);
    expect(moved.genesis!.kept).toBe(false);
    expect(moved.genesis!.allianceId).not.toBe(first.genesis!.allianceId);
    expect(moved.stderr).toContain('new alliance id');
    expect(moved.cities.map((c) => c.nodeId)).toEqual(first.cities.map((c) => c.nodeId));
    const { body } = loadGenesis(join(out, 'genesis.json'));
    expect(body.founders.map((f) => f.endpoints[0])).toEqual(cities.map((c) => `tongxing.${c}.example:${standardPorts.peer}`));

    // --city: one center's keys and the member description it sends the drafter (as `tongxing alliance member`
    // makes it): here the founder record already in the genesis, since its keys are kept.
    const only = await initAlliance(['--out', out, '--host', 'tongxing.{city}.example', '--city', 'Guiyang']);
    const memberFile = join(out, 'guiyang.member.json');
    writeFileSync(memberFile, only.stdout);
    expect(readMemberFile(memberFile)).toEqual(body.founders[1]);
  });

  it('init-alliance.mjs --city makes only that center\'s keys and no genesis; default hosts are tongxing.<city>.example', async () => {
    const out = tempDir();
    const { stdout } = await initAlliance(['--out', out, '--city', 'kunming']);
    expect(readdirSync(join(out, 'keys')).sort()).toEqual(['kunming.p2p', 'kunming.pem', 'kunming.pub.pem', 'kunming.tls.pem']);
    expect(existsSync(join(out, 'genesis.json'))).toBe(false);
    const memberFile = join(out, 'kunming.member.json');
    writeFileSync(memberFile, stdout);
    const member = readMemberFile(memberFile);
    const ports = portsOf(nodeConfigs.get('config/kunming') ?? loadConfigText(read('config/kunming.yaml')));
    expect([member.city, member.regionCode]).toEqual(['Kunming', regionCodes.kunming]);
    expect(member.endpoints).toEqual([`tongxing.kunming.example:${ports.peer}`]);
    expect(member.gossipAddresses).toEqual([`/dns4/tongxing.kunming.example/tcp/${ports.gossip}/p2p/${member.libp2pPeerId}`]);
    expect(Buffer.from(member.tlsCertificate).equals(readTlsIdentity(join(out, 'keys', 'kunming.tls.pem')).certDer)).toBe(true);
    await expect(initAlliance(['--out', out, '--city', 'Chengdu'])).rejects.toThrow(/not a member of the example alliance/);
  });

  it('each Kubernetes city has a one-replica StatefulSet whose ports, probes, mounts and Services match its node.yaml', () => {
    const { one } = dockerfile();
    const genesisMaps = new Set<string>();
    for (const city of cities) {
      const text = read(`kubernetes/${city}.yaml`);
      const docs = parseAllDocuments(text).map((d) => d.toJS() as Doc);
      const ofKind = (kind: string) => docs.filter((d) => d.kind === kind);
      expect(docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Secret', 'Service', 'Service', 'StatefulSet']);
      const configMap = ofKind('ConfigMap')[0]!;
      const secret = ofKind('Secret')[0]!;
      const set = ofKind('StatefulSet')[0]!;
      const config = loadConfigText(configMap.data['node.yaml'] as string);
      nodeConfigs.set(`kubernetes/${city}`, config);
      const ports = portsOf(config);
      expect(ports).toEqual(standardPorts);
      expect(Object.keys(configMap.data)).toEqual(['node.yaml']); // the genesis is signed: made from the file, not templated

      expect(set.spec.replicas).toBe(1);
      const pod = set.spec.template.spec as Doc;
      expect(set.spec.selector.matchLabels).toEqual(set.spec.template.metadata.labels);
      expect(pod.securityContext.runAsUser).toBe(10001);
      const container = pod.containers[0] as Doc;
      expect(container.args).toEqual(JSON.parse(one('CMD')[0]!));
      const containerPort = new Map<string, number>((container.ports as Doc[]).map((p) => [p.name as string, p.containerPort as number]));
      expect(Object.fromEntries(containerPort)).toEqual(ports);
      const resolve = (port: string | number) => (typeof port === 'number' ? port : containerPort.get(port));
      // Probes run `tongxing node health` (grpc.health.v1 over mutual TLS) on the client API, with the admin credential in the data directory.
      for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe] as Doc[]) {
        const command = probe.exec.command as string[];
        expect(command.slice(0, 4)).toEqual(['node', 'bin/tongxing.js', 'node', 'health']);
        expect(command[command.indexOf('--node') + 1]).toBe(`127.0.0.1:${ports.api}`);
        expect(command[command.indexOf('--credential') + 1]).toBe('/var/lib/tongxing/admin.credential');
      }

      // Data on the claim template; node.yaml, genesis.json and keys where the config looks for them.
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
      // The genesis from its own ConfigMap, made from the file as the header says (one name for every city).
      const genesisFile = files.get(config.allianceFile);
      expect(config.allianceFile).toBe(`${configDir}/genesis.json`);
      expect(genesisFile).toMatchObject({ kind: 'configMap', key: 'genesis.json' });
      genesisMaps.add(genesisFile!.name as string);
      expect(text).toContain(`kubectl -n tongxing create configmap ${genesisFile!.name} --from-file=genesis.json=genesis.json`);
      // The SM2 key, the TLS identity and the gossip key from the Secret, which the header says how to make.
      for (const keyFile of [config.keyFile, config.tlsFile, config.gossipKeyFile]) {
        const file = files.get(keyFile);
        expect(file, `${city}: ${keyFile}`).toMatchObject({ kind: 'secret', name: secret.metadata.name });
        expect(Object.keys(secret.stringData)).toContain(file!.key);
        expect(text).toContain(`--from-file=${file!.key}=keys/${posix.basename(keyFile)}`);
      }
      expect(Object.keys(secret.stringData).sort()).toEqual([`${city}.p2p`, `${city}.pem`, `${city}.tls.pem`]);

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
    expect(genesisMaps.size).toBe(1);
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

  it('three cities start from deploy/config and a genesis init-alliance.mjs made for 127.0.0.1, and see each other', async () => {
    const dir = tempDir();
    const ports = await freePorts(cities.length * 4);
    const portsOfCity = cities.map((_, i) => ports.slice(i * 4, i * 4 + 4) as [peer: number, api: number, gossip: number, metrics: number]);
    // Keys and genesis in the directory the configs live in, as on a host (--out /etc/tongxing); one
    // loopback address, so each city gets its own peer and gossip ports.
    const init = await initAlliance(['--out', dir, '--host', '127.0.0.1', ...cities.flatMap((c, i) => ['--ports', `${c}=${portsOfCity[i]![0]},${portsOfCity[i]![2]}`])]);
    expect(loadGenesis(join(dir, 'genesis.json')).body.founders).toHaveLength(cities.length);
    const files: CityFiles[] = [];
    const metricsPorts: number[] = [];
    for (const [i, city] of cities.entries()) {
      const [peer, api, gossip, metrics] = portsOfCity[i]!;
      const made = init.cities[i]!;
      expect([made.endpoint, made.gossip]).toEqual([`127.0.0.1:${peer}`, `/ip4/127.0.0.1/tcp/${gossip}/p2p/${made.peerId}`]);
      metricsPorts.push(metrics);
      // The example config, with only addresses and dataDir changed (comments and the rest kept).
      const doc = parseDocument(read(`config/${city}.yaml`));
      doc.setIn(['peer', 'listen'], `127.0.0.1:${peer}`);
      doc.setIn(['api', 'listen'], `127.0.0.1:${api}`);
      doc.setIn(['gossip', 'listen'], `/ip4/127.0.0.1/tcp/${gossip}`);
      doc.setIn(['metrics', 'listen'], `127.0.0.1:${metrics}`);
      doc.setIn(['http', 'listen'], '127.0.0.1:0'); // three nodes on one host: not all on 7403
      doc.set('dataDir', `data/${city}`);
      const configFile = join(dir, `${city}.yaml`);
      writeFileSync(configFile, doc.toString());
      const config = loadNodeConfig(configFile);
      // Its paths name what init-alliance.mjs made.
      expect(config.allianceFile).toBe(init.genesis!.genesisFile);
      expect([config.keyFile, config.tlsFile, config.gossipKeyFile]).toEqual([made.keyFile, made.tlsFile, made.gossipKeyFile]);
      files.push({
        city,
        regionCode: made.regionCode,
        nodeId: made.nodeId,
        keyFile: config.keyFile,
        configFile,
        dataDir: config.dataDir,
        apiAddress: `127.0.0.1:${api}`,
        peerAddress: `127.0.0.1:${peer}`,
      });
    }

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
    // What the image's HEALTHCHECK and the Kubernetes probes ask for, and what Prometheus scrapes.
    for (const f of files) expect(await checkHealth(f.apiAddress, '', { timeoutMs: 5000, ...secured(f.apiAddress) }), f.city).toBe('SERVING');
    for (const port of metricsPorts) {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('tongxing_replication_lag_ms');
    }
    // SIGTERM stops each cleanly (what docker stop, kubectl and systemctl send).
    const stopping = nodes.splice(0);
    const codes = await Promise.all(stopping.map((n) => n.stop()));
    expect(Object.fromEntries(stopping.map((n, i) => [n.files.city, codes[i]]))).toEqual(Object.fromEntries(cities.map((c) => [c, 0])));
  }, 60_000);
});
