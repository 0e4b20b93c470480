import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ValidationError } from '../federation/errors.js';
import { logLevels, type LogLevel } from './log.js';

// The node's YAML configuration (the genesis file it names: genesis-file.ts).
// docs/CONFIG.md is the reference; keep the two in step. Relative paths are
// resolved against the directory of the file that names them.

export interface NodeConfig {
  /** SM2 PKCS#8 PEM: the member's signing key. */
  readonly keyFile: string;
  /** The key this member rotates to (`alliance propose rotate-key`); the node switches once governance applies it. */
  readonly nextKeyFile: string | undefined;
  /** TLS private key and self-signed certificate (PEM) of the peer links, as recorded in the membership. */
  readonly tlsFile: string;
  readonly dataDir: string;
  /** The alliance's genesis file (JSON, from `tongxing alliance finalize`). */
  readonly allianceFile: string;
  /** host:port of the gRPC peer service (other members call it). */
  readonly peerListen: string;
  /** host:port of the gRPC client API (trading platforms and the CLI call it). */
  readonly apiListen: string;
  /** host:port of the HTTP/JSON client API and its OpenAPI description; '' turns it off. */
  readonly httpListen: string;
  /** Names clients reach the client API by: in its TLS certificate, and the only Host values HTTP accepts. */
  readonly apiNames: readonly string[];
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
  /** Least severe level of the JSON log on stderr: fatal, error, warn, info, debug, trace or silent. */
  readonly logLevel: LogLevel;
  /** OpenTelemetry collector's OTLP/HTTP base URL (traces and metrics pushed there); '' pushes nothing. */
  readonly otlpEndpoint: string;
  readonly otlpExportIntervalMs: number;
}

export const configDefaults = {
  peerListen: '127.0.0.1:7400',
  apiListen: '127.0.0.1:7401',
  httpListen: '127.0.0.1:7403',
  apiNames: ['127.0.0.1', 'localhost', '::1'],
  gossipListen: '/ip4/127.0.0.1/tcp/7402',
  metricsListen: '127.0.0.1:9464',
  antiEntropyIntervalMs: 1000,
  beaconIntervalMs: 5000,
  logLevel: 'info',
  otlpEndpoint: '',
  otlpExportIntervalMs: 15_000,
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

function atLeast(value: number, minimum: number, field: string): number {
  if (value < minimum) throw new ValidationError(field, `must be at least ${minimum} ms; got ${value}`);
  return value;
}

const knownKeys: Record<string, readonly string[]> = {
  '': ['identity', 'dataDir', 'alliance', 'peer', 'api', 'http', 'gossip', 'metrics', 'sync', 'logLevel', 'telemetry'],
  identity: ['key', 'tls', 'nextKey'],
  peer: ['listen'],
  api: ['listen', 'names'],
  http: ['listen'],
  gossip: ['listen', 'key', 'bootstrap'],
  metrics: ['listen'],
  sync: ['antiEntropyIntervalMs', 'beaconIntervalMs'],
  telemetry: ['otlpEndpoint', 'otlpExportIntervalMs'],
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
  const [identity, peer, api, http, gossip, metrics, sync, telemetry] = ['identity', 'peer', 'api', 'http', 'gossip', 'metrics', 'sync', 'telemetry'].map((key) => {
    const s = section(doc, key);
    rejectUnknown(s, key);
    return s;
  }) as [Yaml, Yaml, Yaml, Yaml, Yaml, Yaml, Yaml, Yaml];
  const logLevel = doc.logLevel ?? configDefaults.logLevel;
  if (!logLevels.includes(logLevel as LogLevel)) throw new ValidationError('logLevel', `must be one of ${logLevels.join(', ')}; got ${JSON.stringify(logLevel)}`);
  const otlpEndpoint = text(telemetry, 'otlpEndpoint', 'telemetry.otlpEndpoint', configDefaults.otlpEndpoint, 'no OTLP export');
  if (otlpEndpoint !== '' && !/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(otlpEndpoint)) {
    throw new ValidationError('telemetry.otlpEndpoint', `"${otlpEndpoint}" is not an http:// or https:// URL (the collector's OTLP/HTTP receiver, e.g. http://collector:4318)`);
  }
  const bootstrap = gossip.bootstrap ?? [];
  if (!Array.isArray(bootstrap) || bootstrap.some((b) => typeof b !== 'string')) throw new ValidationError('gossip.bootstrap', 'must be a list of multiaddrs');
  const keyFile = at(text(identity, 'key', 'identity.key'));
  const names = api.names ?? configDefaults.apiNames;
  if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string' || !/^[A-Za-z0-9.\-:]+$/.test(n))) {
    throw new ValidationError('api.names', 'must be a non-empty list of host names or addresses (what clients put in Host and check the certificate against)');
  }
  const nextKey = identity.nextKey === undefined ? undefined : text(identity, 'nextKey', 'identity.nextKey');
  return {
    keyFile,
    nextKeyFile: nextKey === undefined ? undefined : at(nextKey),
    tlsFile: at(text(identity, 'tls', 'identity.tls', tlsPathFor(keyFile))),
    dataDir: at(text(doc, 'dataDir', 'dataDir')),
    allianceFile: at(text(doc, 'alliance', 'alliance')),
    peerListen: hostPort(text(peer, 'listen', 'peer.listen', configDefaults.peerListen), 'peer.listen'),
    apiListen: hostPort(text(api, 'listen', 'api.listen', configDefaults.apiListen), 'api.listen'),
    httpListen: hostPort(text(http, 'listen', 'http.listen', configDefaults.httpListen, 'no HTTP/JSON API'), 'http.listen'),
    apiNames: names as string[],
    gossipListen: text(gossip, 'listen', 'gossip.listen', configDefaults.gossipListen, 'gossip off: anti-entropy only'),
    gossipKeyFile: at(text(gossip, 'key', 'gossip.key', gossipKeyPathFor(keyFile))),
    bootstrap: bootstrap as string[],
    metricsListen: hostPort(text(metrics, 'listen', 'metrics.listen', configDefaults.metricsListen, 'no Prometheus endpoint'), 'metrics.listen'),
    antiEntropyIntervalMs: milliseconds(sync, 'antiEntropyIntervalMs', 'sync.antiEntropyIntervalMs', configDefaults.antiEntropyIntervalMs),
    beaconIntervalMs: milliseconds(sync, 'beaconIntervalMs', 'sync.beaconIntervalMs', configDefaults.beaconIntervalMs),
    logLevel: logLevel as LogLevel,
    otlpEndpoint,
    otlpExportIntervalMs: atLeast(milliseconds(telemetry, 'otlpExportIntervalMs', 'telemetry.otlpExportIntervalMs', configDefaults.otlpExportIntervalMs), 1000, 'telemetry.otlpExportIntervalMs'),
  };
}

/** KEY.pem -> KEY.p2p: where keygen puts the gossip (libp2p) key beside the SM2 key. */
export function gossipKeyPathFor(keyFile: string): string {
  return keyFile.replace(/(\.pem)?$/, '.p2p');
}

/** KEY.pem -> KEY.tls.pem: where keygen puts the TLS identity beside the SM2 key. */
export function tlsPathFor(keyFile: string): string {
  return keyFile.replace(/\.pem$/, '') + '.tls.pem';
}
