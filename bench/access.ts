import { Server, ServerCredentials, credentials as grpcCredentials, type handleUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { Agent, request } from 'node:https';
import { SanctionServiceClient } from '../gen/tongxing/api/v1/api.js';
import { generateKeyPair, nodeIdOf } from '../federation/crypto/sm2.js';
import { Membership, type Member } from '../federation/membership.js';
import { Replica } from '../federation/replica.js';
import { MemoryStore } from '../federation/store/memory.js';
import { Bus } from '../federation/testing/bus.js';
import { sanction, usccFor } from '../federation/testing/records.js';
import type { AccessGuard } from '../node/access/guard.js';
import { testAccess, tlsOptionsOf } from '../node/access/testing.js';
import { readTlsIdentity } from '../node/peer/tls.js';
import { join } from 'node:path';
import { connectApi } from '../node/api/client.js';
import { startHttpServer } from '../node/api/http.js';
import { startApiServer } from '../node/api/server.js';
import { apiContext, type ApiService } from '../node/api/service.js';
import { apiServices } from '../node/api/services.js';
import { median, repetitions } from './micro.js';
import { Prng } from '../federation/testing/prng.js';

// The cost of access control on the hot path: sanction checks per second over
// gRPC and HTTPS through the guard (mutual TLS, scope check, rate bucket), beside
// the same handlers without it, in the same run. The unguarded servers are a
// harness of this file (plaintext gRPC calling the handler; HTTPS with a guard
// that admits every call), not a node option: a node has no such switch.

const concurrency = 32;

/** Calls per second of `count` calls with `concurrency` callers in flight. */
async function once(count: number, call: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) await call(next++);
  }));
  return count / ((performance.now() - start) / 1000);
}

/**
 * Medians over `repetitions` rounds of the two variants, taking turns within a
 * round so that a noisy moment on the shared machine weighs on both.
 */
async function rates(count: number, a: (i: number) => Promise<unknown>, b: (i: number) => Promise<unknown>): Promise<[number, number]> {
  const runs: [number[], number[]] = [[], []];
  for (let r = 0; r < repetitions; r++) {
    runs[0].push(await once(count, a));
    runs[1].push(await once(count, b));
  }
  return [median(runs[0]), median(runs[1])];
}

async function checkedReplica(): Promise<Replica> {
  const keyPair = generateKeyPair();
  const member: Member = { nodeId: nodeIdOf(keyPair.publicKey), publicKey: keyPair.publicKey, city: 'Kunming', regionCode: '530100', endpoints: [] };
  const alone = new Bus().transport(member.nodeId); // no peer answers
  const replica = await Replica.open({ allianceId: Buffer.alloc(32, 1), keyPair, members: new Membership([member]) }, { store: new MemoryStore(), transport: alone, clock: { nowMs: Date.now }, random: new Prng('test').random() });
  for (let i = 0; i < 100; i++) await replica.write({ kind: { $case: 'sanctionIssue', value: sanction(`B-${i}`, usccFor(i), Date.now() - 86_400_000) } });
  return replica;
}

/** The same handlers over gRPC with no guard: with the node's server TLS but no client authentication, or plaintext. */
async function unguardedGrpc(services: ApiService[], tls?: { key: string; cert: string }): Promise<{ port: number; stop(): void }> {
  const server = new Server();
  for (const service of services) {
    const implementation: UntypedServiceImplementation = {};
    for (const [method, handler] of Object.entries(service.handlers)) {
      const unary: handleUnaryCall<unknown, unknown> = (call, callback) => {
        handler(call.request, { client: 'bench', operator: '', scopes: new Set() }).then((r) => callback(null, r), (e) => callback(e));
      };
      implementation[method] = unary;
    }
    server.addService(service.definition, implementation);
  }
  const credentials = tls ? ServerCredentials.createSsl(null, [{ private_key: Buffer.from(tls.key), cert_chain: Buffer.from(tls.cert) }], false) : ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (e, p) => (e ? reject(e) : resolve(p))));
  return { port, stop: () => server.forceShutdown() };
}

/** Admits every call as a client with every scope: what the HTTPS server does without access control. */
const admitAll = {
  authenticate: () => undefined,
  admit: () => ({ caller: { client: 'bench', operator: '', scopes: new Set() }, finish: async () => undefined }),
  run: (_path: string, _request: unknown, _bytes: unknown, _identity: unknown, task: (caller: unknown) => Promise<unknown>) => task({ client: 'bench', operator: '', scopes: new Set() }),
} as unknown as AccessGuard;

export async function accessFigures(count = 20_000) {
  const replica = await checkedReplica();
  const access = await testAccess();
  const services = apiServices(apiContext({ replica, clock: { nowMs: Date.now }, freshnessBudgetMs: 3_600_000, city: 'Kunming', allianceId: Buffer.alloc(32, 1), startedAtMs: Date.now() }));
  const stops: Array<() => unknown> = [];
  try {
    // A platform with `check` only, allowed more calls than the bench makes, so the rate bucket is exercised but never refuses.
    const { token } = access.guard.registry.grant({ name: 'bench-platform', scopes: ['check'], callsPerSecondMax: 10_000_000 });
    const guarded = await startApiServer({ listen: '127.0.0.1:0', guard: access.guard, tls: access.tls }, services);
    stops.push(() => guarded.stop());
    const https = await startHttpServer({ listen: '127.0.0.1:0', guard: access.guard, tls: access.tls, names: ['127.0.0.1'] }, services);
    stops.push(() => https.stop());
    const open = await startHttpServer({ listen: '127.0.0.1:0', guard: admitAll, tls: access.tls, names: ['127.0.0.1'] }, services);
    stops.push(() => open.stop());
    const plain = await unguardedGrpc(services);
    stops.push(() => plain.stop());
    const identity = readTlsIdentity(join(access.dataDir, 'access', 'api-tls.pem'));
    const serverTls = await unguardedGrpc(services, { key: identity.keyPem, cert: identity.certPem });
    stops.push(() => serverTls.stop());
    const credential = access.publish(guarded.port, https.port);

    const viaGuard = connectApi(`127.0.0.1:${guarded.port}`, { credential });
    stops.push(() => viaGuard.close());
    const direct = new SanctionServiceClient(`127.0.0.1:${plain.port}`, grpcCredentials.createInsecure());
    stops.push(() => direct.close());
    const overTls = new SanctionServiceClient(`127.0.0.1:${serverTls.port}`, grpcCredentials.createSsl(Buffer.from(identity.certPem), null, null, { checkServerIdentity: () => undefined }), {
      'grpc.ssl_target_name_override': 'tongxing-api',
    });
    stops.push(() => overTls.close());
    const check = (client: SanctionServiceClient, uscc: string) =>
      new Promise((resolve, reject) => client.checkSanctions({ uscc, expertRef: '', atMs: 0n, evidence: false }, (e, r) => (e ? reject(e) : resolve(r))));

    const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
    stops.push(() => agent.destroy());
    const tls = { ...tlsOptionsOf(credential, true), agent };
    const get = (port: number, uscc: string) =>
      new Promise<void>((resolve, reject) => {
        const r = request({ host: '127.0.0.1', port, path: `/v1/sanctions/check?uscc=${uscc}`, headers: { authorization: `Bearer ${token}` }, ...tls }, (response) => {
          response.resume();
          response.on('end', () => (response.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${response.statusCode}`))));
        });
        r.on('error', reject);
        r.end();
      });

    // Authentication (mutual TLS and the guard) against server-only TLS without a guard; and plaintext, the floor of what TLS costs.
    const [grpcGuarded, grpcOpen] = await rates(count, (i) => viaGuard.checkSanctions(usccFor(i % 100)), (i) => check(overTls, usccFor(i % 100)));
    const [grpcGuardedAgain, grpcPlain] = await rates(count, (i) => viaGuard.checkSanctions(usccFor(i % 100)), (i) => check(direct, usccFor(i % 100)));
    const [httpGuarded, httpOpen] = await rates(count, (i) => get(https.port, usccFor(i % 100)), (i) => get(open.port, usccFor(i % 100)));
    return {
      check_grpc_per_s_authenticated: grpcGuarded,
      check_grpc_per_s_unauthenticated: grpcOpen, // server TLS, no client authentication, no guard
      check_grpc_auth_ratio: grpcGuarded / grpcOpen,
      check_grpc_per_s_plaintext: grpcPlain,
      check_grpc_vs_plaintext: grpcGuardedAgain / grpcPlain,
      check_http_per_s_authenticated: httpGuarded,
      check_http_per_s_unauthenticated: httpOpen,
      check_http_auth_ratio: httpGuarded / httpOpen,
    };
  } finally {
    for (const stop of stops.reverse()) await stop();
    await replica.close();
    access.remove();
  }
}
