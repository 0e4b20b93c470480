import { status } from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '../../federation/crypto/sm2.js';
import { accessService } from '../api/access.js';
import { startApiServer, type ApiServer } from '../api/server.js';
import { apiContext, type ApiServerComponents, type ApiService } from '../api/service.js';
import { statusOf } from '../error-table.js';
import { apiServices } from '../api/services.js';
import { request as httpsRequest } from 'node:https';
import { apiTlsServerName, pinnedServerCheck, type ClientCredential } from './credential.js';
import type { MethodRule } from './scopes.js';
import { openAccess, type NodeAccess } from './node-access.js';

// Tests that serve the client API in-process open the same access control a
// node opens, in a temporary data directory: an admin credential, published
// for the bound port so clients and the CLI find it by address.

export interface TestAccess extends NodeAccess {
  readonly dataDir: string;
  /** Writes the admin credential for the servers' ports and publishes it for the gRPC address. */
  publish(grpcPort: number, httpPort?: number): ClientCredential;
  /** Removes the temporary data directory. */
  remove(): void;
}

/** `rules` extends the scope table, for tests that serve services of their own. */
export async function testAccess(rules: Readonly<Record<string, MethodRule>> = {}): Promise<TestAccess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tongxing-access-'));
  const access = await openAccess({
    dataDir,
    names: ['127.0.0.1', 'localhost', '::1'],
    approverPublicKey: generateKeyPair().publicKey,
    approverKeyFile: join(dataDir, 'no-approver-key.pem'),
    outcomeOf: (error) => status[statusOf(error).code],
    rules,
  });
  return {
    ...access,
    dataDir,
    publish: (grpcPort, httpPort) => access.publishAdmin({ grpc: `127.0.0.1:${grpcPort}`, http: httpPort === undefined ? '' : `https://127.0.0.1:${httpPort}` }),
    remove: () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

/** The gRPC client API in-process on a free loopback port, guarded like a node's, with the admin credential published for it. */
export async function startTestApi(components: ApiServerComponents | ApiService[]): Promise<ApiServer & { readonly access: TestAccess }> {
  const access = await testAccess();
  const services = [...(Array.isArray(components) ? components : apiServices(apiContext(components))), accessService(access.guard)];
  const server = await startApiServer({ listen: '127.0.0.1:0', guard: access.guard, tls: access.tls }, services);
  access.publish(server.port);
  return {
    port: server.port,
    access,
    // The data directory outlives the server: a test may still call the stopped address (and must see UNAVAILABLE).
    stop: async () => {
      await server.stop();
      process.once('exit', () => access.remove());
    },
  };
}

export interface HttpsAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/** TLS options of an HTTPS request as `credential`'s client: the node's certificate pinned, the client's presented. */
export function tlsOptionsOf(credential: ClientCredential, anonymous = false) {
  return {
    ca: credential.serverCertificate,
    ...(anonymous || credential.certificate === undefined ? {} : { cert: credential.certificate, key: credential.key }),
    checkServerIdentity: pinnedServerCheck(credential.serverCertificate),
    servername: apiTlsServerName,
    agent: false as const,
  };
}

/**
 * One HTTPS request to a node's HTTP/JSON API as a client holding `credential`
 * (its certificate, or its token when it has one); `as: 'nobody'` presents
 * neither. Host defaults to 127.0.0.1.
 */
export function httpsCall(
  url: string,
  init: { method?: string; body?: string; headers?: Record<string, string>; credential: ClientCredential; as?: 'nobody' },
): Promise<HttpsAnswer> {
  const { credential } = init;
  const anonymous = init.as === 'nobody';
  const headers: Record<string, string> = { ...init.headers };
  if (!anonymous && credential.token !== undefined && headers.authorization === undefined) headers.authorization = `Bearer ${credential.token}`;
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      url,
      {
        method: init.method ?? 'GET',
        headers,
        ...tlsOptionsOf(credential, anonymous),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const answerHeaders = new Headers();
          for (const [name, value] of Object.entries(response.headers)) if (value !== undefined) answerHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
          resolve({ status: response.statusCode ?? 0, headers: answerHeaders, text: Buffer.concat(chunks).toString('utf8') });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(init.body);
  });
}
