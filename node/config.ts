import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { nodeIdOf } from '../federation/crypto/sm2.js';
import { sm3 } from '../federation/crypto/sm3.js';
import { ValidationError } from '../federation/errors.js';
import type { Member } from '../federation/membership.js';

// The node's YAML configuration and the alliance file it points to.
// docs/CONFIG.md is the reference; keep the two in step. Relative paths are
// resolved against the directory of the file that names them.

export interface NodeConfig {
  /** SM2 PKCS#8 PEM: the member's signing key. */
  readonly keyFile: string;
  readonly dataDir: string;
  readonly allianceFile: string;
  /** host:port of the gRPC peer service (other members call it). */
  readonly peerListen: string;
  /** host:port of the gRPC client API (trading platforms and the CLI call it). */
  readonly apiListen: string;
  /** libp2p TCP multiaddr for gossip; '' turns gossip off (anti-entropy alone still converges). */
  readonly gossipListen: string;
  /** libp2p Ed25519 key (base64 protobuf); created on first start when missing. */
  readonly gossipKeyFile: string;
  /** Extra gossip peers (multiaddr with /p2p/); members' gossip addresses are always dialled. */
  readonly bootstrap: readonly string[];
  /** Prometheus endpoint `host:port`; empty string disables it. */
  readonly metricsListen: string;
  readonly antiEntropyIntervalMs: number;
  readonly beaconIntervalMs: number;
}

export interface AllianceMember extends Member {
  /** libp2p multiaddr including /p2p/<peer id>. */
  readonly gossip: string;
}

export interface Alliance {
  readonly name: string;
  /** SM3 of the alliance's canonical body: name and members' keys, cities and region codes. */
  readonly allianceId: Buffer;
  /** A sanctions check fails closed when a member's data is older than this. */
  readonly freshnessBudgetMs: number;
  readonly members: AllianceMember[];
}

export const configDefaults = {
  peerListen: '127.0.0.1:7400',
  apiListen: '127.0.0.1:7401',
  gossipListen: '/ip4/127.0.0.1/tcp/7402',
  metricsListen: '127.0.0.1:9464',
  antiEntropyIntervalMs: 1000,
  beaconIntervalMs: 5000,
  freshnessBudgetMs: 60_000,
} as const;

type Yaml = { [key: string]: unknown };

function readYaml(path: string, what: string): Yaml {
  let value: unknown;
  try {
    value = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ValidationError(what, `cannot read ${path}: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ValidationError(what, `${path} must hold a YAML mapping`);
  return value as Yaml;
}

function section(doc: Yaml, key: string): Yaml {
  const value = doc[key] ?? {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ValidationError(key, 'must be a mapping');
  return value as Yaml;
}

/** A string option; `''` only where `emptyMeans` says what it means (e.g. "off"). */
function text(doc: Yaml, key: string, field: string, fallback?: string, emptyMeans?: string): string {
  const value = doc[key] ?? fallback;
  if (value === '' && emptyMeans !== undefined) return '';
  if (typeof value !== 'string' || value === '') {
    throw new ValidationError(field, value === undefined ? 'is required' : 'must be a non-empty string');
  }
  return value;
}

function hostPort(value: string, field: string): string {
  if (value !== '' && !/^[A-Za-z0-9.\-:[\]]+:\d{1,5}$/.test(value)) throw new ValidationError(field, `"${value}" is not host:port`);
  return value;
}

function milliseconds(doc: Yaml, key: string, field: string, fallback: number): number {
  const value = doc[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 10 || value > 86_400_000) {
    throw new ValidationError(field, 'must be an integer number of milliseconds from 10 to 86400000');
  }
  return value;
}

const knownKeys: Record<string, readonly string[]> = {
  '': ['identity', 'dataDir', 'alliance', 'peer', 'api', 'gossip', 'metrics', 'sync'],
  identity: ['key'],
  peer: ['listen'],
  api: ['listen'],
  gossip: ['listen', 'key', 'bootstrap'],
  metrics: ['listen'],
  sync: ['antiEntropyIntervalMs', 'beaconIntervalMs'],
};

/** Unknown keys are errors: a misspelt option must not silently fall back to a default. */
function rejectUnknown(doc: Yaml, path: string): void {
  for (const key of Object.keys(doc)) {
    if (!knownKeys[path]!.includes(key)) throw new ValidationError(path ? `${path}.${key}` : key, 'unknown option');
  }
}

export function loadNodeConfig(path: string): NodeConfig {
  const doc = readYaml(path, 'config');
  const base = dirname(resolve(path));
  const at = (p: string) => resolve(base, p);
  rejectUnknown(doc, '');
  const [identity, peer, api, gossip, metrics, sync] = ['identity', 'peer', 'api', 'gossip', 'metrics', 'sync'].map((key) => {
    const s = section(doc, key);
    rejectUnknown(s, key);
    return s;
  }) as [Yaml, Yaml, Yaml, Yaml, Yaml, Yaml];
  const bootstrap = gossip.bootstrap ?? [];
  if (!Array.isArray(bootstrap) || bootstrap.some((b) => typeof b !== 'string')) throw new ValidationError('gossip.bootstrap', 'must be a list of multiaddrs');
  const keyFile = at(text(identity, 'key', 'identity.key'));
  return {
    keyFile,
    dataDir: at(text(doc, 'dataDir', 'dataDir')),
    allianceFile: at(text(doc, 'alliance', 'alliance')),
    peerListen: hostPort(text(peer, 'listen', 'peer.listen', configDefaults.peerListen), 'peer.listen'),
    apiListen: hostPort(text(api, 'listen', 'api.listen', configDefaults.apiListen), 'api.listen'),
    gossipListen: text(gossip, 'listen', 'gossip.listen', configDefaults.gossipListen, 'gossip off: anti-entropy only'),
    gossipKeyFile: at(text(gossip, 'key', 'gossip.key', keyFile.replace(/(\.pem)?$/, '.p2p'))),
    bootstrap: bootstrap as string[],
    metricsListen: hostPort(text(metrics, 'listen', 'metrics.listen', configDefaults.metricsListen, 'no Prometheus endpoint'), 'metrics.listen'),
    antiEntropyIntervalMs: milliseconds(sync, 'antiEntropyIntervalMs', 'sync.antiEntropyIntervalMs', configDefaults.antiEntropyIntervalMs),
    beaconIntervalMs: milliseconds(sync, 'beaconIntervalMs', 'sync.beaconIntervalMs', configDefaults.beaconIntervalMs),
  };
}

/** The identity of an alliance: what its members agreed on, not where they listen. */
export function allianceIdOf(name: string, members: readonly Pick<Member, 'nodeId' | 'city' | 'regionCode'>[]): Buffer {
  const body = {
    name,
    members: [...members].sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1)).map((m) => [m.nodeId, m.city, m.regionCode]),
  };
  return sm3(Buffer.from(JSON.stringify(body)));
}

export function loadAlliance(path: string): Alliance {
  const doc = readYaml(path, 'alliance');
  const name = text(doc, 'name', 'alliance.name');
  if (!Array.isArray(doc.members) || doc.members.length === 0) throw new ValidationError('alliance.members', 'must be a non-empty list');
  const members = doc.members.map((raw: unknown, i: number): AllianceMember => {
    const field = `alliance.members[${i}]`;
    if (typeof raw !== 'object' || raw === null) throw new ValidationError(field, 'must be a mapping');
    const m = raw as Yaml;
    const publicKeyHex = text(m, 'publicKey', `${field}.publicKey`);
    if (!/^04[0-9a-f]{128}$/.test(publicKeyHex)) throw new ValidationError(`${field}.publicKey`, 'must be 65 bytes of uncompressed SM2 point, lower-case hex starting 04');
    const publicKey = Buffer.from(publicKeyHex, 'hex');
    const regionCode = text(m, 'regionCode', `${field}.regionCode`);
    if (!/^\d{6}$/.test(regionCode)) throw new ValidationError(`${field}.regionCode`, 'must be a 6-digit GB/T 2260 code');
    return {
      nodeId: nodeIdOf(publicKey),
      publicKey,
      city: text(m, 'city', `${field}.city`),
      regionCode,
      endpoints: [hostPort(text(m, 'peer', `${field}.peer`), `${field}.peer`)],
      gossip: text(m, 'gossip', `${field}.gossip`),
    };
  });
  const budget = doc.freshnessBudgetMs ?? configDefaults.freshnessBudgetMs;
  if (typeof budget !== 'number' || !Number.isInteger(budget) || budget < 1000) {
    throw new ValidationError('alliance.freshnessBudgetMs', 'must be an integer of at least 1000 ms');
  }
  return { name, allianceId: allianceIdOf(name, members), freshnessBudgetMs: budget, members };
}
