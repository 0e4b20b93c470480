import { createHash, randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TongxingError, ValidationError } from '../../federation/errors.js';
import { accessClientsMax, clientCallsPerSecondDefault, clientNameCharsMax } from '../limits.js';
import { isScope, scopes, type Scope } from './scopes.js';

// The clients a node answers: each has a name, scopes, an optional expiry and
// one credential, a pinned TLS certificate (mutual TLS, the default) or a
// bearer token kept only as its SHA-256. The registry is a small JSON file in
// the data directory, replaced atomically (write, fsync, rename) on every
// change, so a crash leaves the old registry or the new one. Lookups are in
// memory; a change applies to the next call.

export interface Client {
  readonly name: string;
  readonly scopes: readonly Scope[];
  /** Unix ms; 0: never. */
  readonly expiresAtMs: number;
  readonly credential: 'certificate' | 'token';
  /** SHA-256 (hex) of the pinned certificate's DER, or the token's public id. */
  readonly fingerprint: string;
  /** The pinned certificate (DER, base64 in the file). */
  readonly certificateDer?: Buffer;
  /** SHA-256 (hex) of the whole token. */
  readonly tokenHash?: string;
  /** SM2 public key (uncompressed, hex) whose signature governance calls carry. */
  readonly approverPublicKey?: string;
  readonly callsPerSecondMax: number;
  readonly createdAtMs: number;
  /** 0: not revoked. */
  readonly revokedAtMs: number;
  readonly note: string;
}

export interface Grant {
  readonly name: string;
  readonly scopes: readonly string[];
  readonly expiresAtMs?: number;
  readonly certificateDer?: Uint8Array;
  readonly approverPublicKey?: Uint8Array;
  readonly callsPerSecondMax?: number;
  readonly note?: string;
}

const namePattern = /^[a-z0-9][a-z0-9._-]*$/;
/** tx_<id>_<secret>: the id finds the client without scanning; only the hash of the whole token is kept. */
const tokenPattern = /^tx_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

export const certificateFingerprint = (der: Uint8Array): string => sha256(der);

function newToken(): { token: string; id: string; hash: string } {
  const id = randomBytes(6).toString('hex');
  const token = `tx_${id}_${randomBytes(32).toString('base64url')}`;
  return { token, id, hash: sha256(token) };
}

interface StoredClient extends Omit<Client, 'certificateDer'> {
  readonly certificateDer?: string;
}

export class AccessRegistry {
  readonly #path: string;
  readonly #clock: () => number;
  #clients = new Map<string, Client>();
  /** Current lookups by credential (every call asks one): rebuilt with each change. */
  #byFingerprint = new Map<string, Client>();
  #listeners: Array<() => void> = [];

  private constructor(path: string, clock: () => number) {
    this.#path = path;
    this.#clock = clock;
  }

  /** Opens (or starts) the registry at DIR/clients.json. */
  static open(directory: string, clock: () => number = Date.now): AccessRegistry {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const registry = new AccessRegistry(join(directory, 'clients.json'), clock);
    if (existsSync(registry.#path)) {
      let stored: { clients: StoredClient[] };
      try {
        stored = JSON.parse(readFileSync(registry.#path, 'utf8'));
      } catch (error) {
        throw new TongxingError(`${registry.#path} is not a client registry (${(error as Error).message}): restore it from a backup`);
      }
      for (const c of stored.clients) {
        registry.#clients.set(c.name, { ...c, certificateDer: c.certificateDer === undefined ? undefined : Buffer.from(c.certificateDer, 'base64') });
      }
      registry.#index();
    }
    return registry;
  }

  /** Called after every change (the TLS servers re-read the pinned certificates). */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  list(): Client[] {
    return [...this.#clients.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): Client | undefined {
    return this.#clients.get(name);
  }

  /** Registers a client; a revoked client's name may be granted again. Returns the token once, for token clients. */
  grant(grant: Grant): { client: Client; token?: string } {
    const name = grant.name;
    if (!namePattern.test(name) || name.length > clientNameCharsMax) {
      throw new ValidationError('grant.name', `must be lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, at most ${clientNameCharsMax} characters; got ${JSON.stringify(name)}`);
    }
    const existing = this.#clients.get(name);
    if (existing && existing.revokedAtMs === 0) throw new ValidationError('grant.name', `a client named ${name} exists; revoke it first or rotate its credential`);
    if (!existing && this.#clients.size >= accessClientsMax) throw new ValidationError('grant.name', `this node has ${this.#clients.size} clients, at most ${accessClientsMax} (accessClientsMax): revoke unused ones`);
    const granted = this.#checkScopes(grant.scopes);
    const now = this.#clock();
    const expiresAtMs = grant.expiresAtMs ?? 0;
    if (expiresAtMs !== 0 && expiresAtMs <= now) throw new ValidationError('grant.expiresAtMs', 'is in the past');
    const callsPerSecondMax = grant.callsPerSecondMax || clientCallsPerSecondDefault;
    const approverPublicKey = grant.approverPublicKey && grant.approverPublicKey.length > 0 ? this.#checkApproverKey(grant.approverPublicKey) : undefined;
    const { credential, token } = this.#credential(grant.certificateDer, name);
    const client: Client = { name, scopes: granted, expiresAtMs, ...credential, approverPublicKey, callsPerSecondMax, createdAtMs: now, revokedAtMs: 0, note: grant.note ?? '' };
    this.#save(new Map(this.#clients).set(name, client));
    return { client, token };
  }

  revoke(name: string): Client {
    const client = this.#active(name);
    const revoked = { ...client, revokedAtMs: this.#clock() };
    this.#save(new Map(this.#clients).set(name, revoked));
    return revoked;
  }

  /** A new credential of the same kind (a token client gets a new token; a certificate client pins `certificateDer`). */
  rotate(name: string, certificateDer?: Uint8Array): { client: Client; token?: string } {
    const client = this.#active(name);
    if (client.credential === 'certificate' && (!certificateDer || certificateDer.length === 0)) throw new ValidationError('certificateDer', `${name} is a certificate client: give the certificate to pin instead`);
    if (client.credential === 'token' && certificateDer && certificateDer.length > 0) throw new ValidationError('certificateDer', `${name} is a token client: it gets a new token`);
    const { credential, token } = this.#credential(certificateDer, name);
    const rotated: Client = { ...client, ...credential };
    this.#save(new Map(this.#clients).set(name, rotated));
    return { client: rotated, token };
  }

  /** The client whose pinned certificate this is; undefined when none (unknown, or pinned for nobody now). */
  byCertificate(der: Uint8Array): Client | undefined {
    const client = this.#byFingerprint.get(certificateFingerprint(der));
    return client?.credential === 'certificate' ? client : undefined;
  }

  byToken(token: string): Client | undefined {
    const id = tokenPattern.exec(token)?.[1];
    const client = id === undefined ? undefined : this.#byFingerprint.get(id);
    if (client?.credential !== 'token') return undefined;
    return timingSafeEqual(Buffer.from(client.tokenHash!, 'hex'), Buffer.from(sha256(token), 'hex')) ? client : undefined;
  }

  /** Fingerprints and token ids are unique among clients not revoked; a revoked one stays findable only when nobody took its credential since. */
  #index(): void {
    this.#byFingerprint = new Map();
    const ordered = [...this.#clients.values()].sort((a, b) => Number(a.revokedAtMs === 0) - Number(b.revokedAtMs === 0));
    for (const client of ordered) this.#byFingerprint.set(client.fingerprint, client);
  }

  /** Why `client` may not call now (revoked, expired), or undefined. */
  inactive(client: Client): string | undefined {
    if (client.revokedAtMs !== 0) return `client ${client.name} was revoked at ${new Date(client.revokedAtMs).toISOString()}`;
    if (client.expiresAtMs !== 0 && this.#clock() >= client.expiresAtMs) return `client ${client.name}'s access expired at ${new Date(client.expiresAtMs).toISOString()}`;
    return undefined;
  }

  /** Certificates the TLS servers accept from clients: those of clients neither revoked nor expired. */
  pinnedCertificates(): Buffer[] {
    return this.list().filter((c) => c.credential === 'certificate' && this.inactive(c) === undefined).map((c) => c.certificateDer!);
  }

  #active(name: string): Client {
    const client = this.#clients.get(name);
    if (!client) throw new ValidationError('name', `no client named ${name}; \`tongxing access list\` shows them`);
    if (client.revokedAtMs !== 0) throw new ValidationError('name', `client ${name} is revoked`);
    return client;
  }

  #checkScopes(given: readonly string[]): Scope[] {
    if (given.length === 0) throw new ValidationError('grant.scopes', `at least one of ${scopes.join(', ')}`);
    const unknown = given.filter((s) => !isScope(s));
    if (unknown.length > 0) throw new ValidationError('grant.scopes', `unknown scope ${unknown.join(', ')}; known: ${scopes.join(', ')}`);
    return scopes.filter((s) => given.includes(s));
  }

  #checkApproverKey(key: Uint8Array): string {
    if (key.length !== 65 || key[0] !== 0x04) throw new ValidationError('grant.approverPublicKey', 'must be an uncompressed SM2 public key (65 bytes, 04 || x || y)');
    return Buffer.from(key).toString('hex');
  }

  #credential(certificateDer: Uint8Array | undefined, name: string): { credential: Pick<Client, 'credential' | 'fingerprint' | 'certificateDer' | 'tokenHash'>; token?: string } {
    if (certificateDer && certificateDer.length > 0) {
      try {
        new X509Certificate(certificateDer);
      } catch (error) {
        throw new ValidationError('grant.certificateDer', `is not an X.509 certificate: ${(error as Error).message}`);
      }
      const fingerprint = certificateFingerprint(certificateDer);
      const holder = [...this.#clients.values()].find((c) => c.fingerprint === fingerprint && c.revokedAtMs === 0 && c.name !== name);
      if (holder) throw new ValidationError('grant.certificateDer', `this certificate is already pinned for client ${holder.name}`);
      return { credential: { credential: 'certificate', fingerprint, certificateDer: Buffer.from(certificateDer), tokenHash: undefined } };
    }
    const { token, id, hash } = newToken();
    return { credential: { credential: 'token', fingerprint: id, certificateDer: undefined, tokenHash: hash }, token };
  }

  /** Durable before it is visible: the file is replaced atomically, then memory, then the listeners. */
  #save(clients: Map<string, Client>): void {
    const stored: StoredClient[] = [...clients.values()].map((c) => ({ ...c, certificateDer: c.certificateDer?.toString('base64') }));
    const partial = `${this.#path}.partial`;
    const fd = openSync(partial, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify({ version: 1, clients: stored }, null, 1) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(partial, this.#path);
    this.#clients = clients;
    this.#index();
    for (const listener of this.#listeners) listener();
  }
}
