import { credentials as grpcCredentials, type ChannelCredentials } from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { TongxingError } from '../../federation/errors.js';

// A client's credential file, like a kubeconfig: where the node's client API
// is, the node's TLS certificate (pinned: clients trust exactly it), and the
// client's own TLS key and certificate or bearer token. Mode 0600. A node
// writes one for its administrator at first start (DATADIR/admin.credential)
// and points TONGXING_HOME/nodes/HOST_PORT at it, so the CLI on the node's
// machine finds it from --node alone.

export interface ClientCredential {
  readonly client: string;
  /** host:port of the gRPC client API. */
  readonly grpc: string;
  /** https://host:port of the HTTP/JSON API; '' when it is off. */
  readonly http: string;
  /** The node's client API TLS certificate (PEM), pinned by clients. */
  readonly serverCertificate: string;
  readonly certificate?: string;
  readonly key?: string;
  readonly token?: string;
  /** An SM2 private key (PKCS#8 PEM file) governance calls are signed with: the second factor. */
  readonly approverKeyFile?: string;
}

const kind = 'tongxing-credential/v1';

/** The CLI's credential directory: TONGXING_HOME, or ~/.tongxing. */
export const tongxingHome = (): string => process.env.TONGXING_HOME || join(homedir(), '.tongxing');

/** Where the credential for the node at `address` is found when none is named. */
export const credentialPointerFor = (address: string): string => join(tongxingHome(), 'nodes', `${address.replace(/[^A-Za-z0-9.-]/g, '_')}.credential`);

export class CredentialError extends TongxingError {
  override name = 'CredentialError';
}

export function writeCredential(path: string, credential: ClientCredential): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, JSON.stringify({ kind, ...credential }, null, 2) + '\n', { mode: 0o600 });
  chmodSync(path, 0o600); // `mode` applies only when the file is created
}

export function readCredential(path: string): ClientCredential {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CredentialError(`cannot read credential ${path}: ${(error as Error).message}`);
  }
  if (parsed.kind !== kind) throw new CredentialError(`${path} is not a Tongxing credential (kind ${JSON.stringify(parsed.kind)}, expected ${kind})`);
  for (const field of ['client', 'grpc', 'serverCertificate'] as const) {
    if (typeof parsed[field] !== 'string' || parsed[field] === '') throw new CredentialError(`${path}: ${field} is missing`);
  }
  if (!(typeof parsed.token === 'string') && !(typeof parsed.certificate === 'string' && typeof parsed.key === 'string')) {
    throw new CredentialError(`${path}: holds neither a token nor a certificate and key`);
  }
  const credential = parsed as unknown as ClientCredential;
  const approverKeyFile = credential.approverKeyFile === undefined ? undefined : resolve(dirname(path), credential.approverKeyFile);
  return { ...credential, http: credential.http ?? '', approverKeyFile };
}

/** Points the CLI's lookup for `address` at the credential file `path` (the node's admin credential). */
export function publishCredential(address: string, path: string): void {
  const pointer = credentialPointerFor(address);
  mkdirSync(dirname(pointer), { recursive: true, mode: 0o700 });
  writeFileSync(pointer, resolve(path) + '\n', { mode: 0o600 });
}

/**
 * The credential to call the node at `address` with: the file named (by
 * --credential), else TONGXING_CREDENTIAL, else the one a node on this machine
 * published for `address`.
 */
export function findCredential(address: string | undefined, named?: string): ClientCredential {
  const path = named ?? process.env.TONGXING_CREDENTIAL;
  if (path) return readCredential(path);
  if (address !== undefined) {
    const pointer = credentialPointerFor(address);
    if (existsSync(pointer)) return readCredential(readFileSync(pointer, 'utf8').trim());
  }
  throw new CredentialError(
    `no credential for the node at ${address ?? '(no address)'}: pass --credential FILE (a node writes its administrator's to DATADIR/admin.credential at first start; \`tongxing access grant\` makes others)`,
  );
}

/** Whether `presented` is exactly the pinned server certificate (host names play no part). */
export function pinnedServerCheck(serverCertificatePem: string): (host: string, cert: { raw: Buffer }) => Error | undefined {
  const expected = Buffer.from(new X509Certificate(serverCertificatePem).raw);
  return (_host, cert) => (Buffer.from(cert.raw).equals(expected) ? undefined : new Error('the node presented a TLS certificate other than the one this credential pins'));
}

/** The server name sent in TLS: the certificate is pinned, so a fixed one (an IP address is not a valid SNI). */
export const apiTlsServerName = 'tongxing-api';

/** Mutual TLS to the gRPC client API with the credential's certificate (gRPC takes no tokens). */
export function grpcCredentialsOf(credential: ClientCredential): ChannelCredentials {
  if (credential.certificate === undefined || credential.key === undefined) {
    throw new CredentialError(`credential of ${credential.client} holds a token: tokens are for the HTTP/JSON API; gRPC clients present a certificate (access grant without --token)`);
  }
  return grpcCredentials.createSsl(Buffer.from(credential.serverCertificate), Buffer.from(credential.key), Buffer.from(credential.certificate), {
    checkServerIdentity: pinnedServerCheck(credential.serverCertificate),
  });
}
