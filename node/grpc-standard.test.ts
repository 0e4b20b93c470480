import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { loadPackageDefinition, type Client, type ClientReadableStream, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPair, nodeIdOf } from '../federation/crypto/sm2.js';
import { Membership } from '../federation/membership.js';
import { Replica } from '../federation/replica.js';
import { MemoryStore } from '../federation/store/memory.js';
import { Bus } from '../federation/testing/bus.js';
import { startTestApi } from './access/testing.js';
import type { ApiServer } from './api/server.js';
import { checkHealth } from './grpc-standard.js';
import { apiChannel } from './api/client.js';

/** The client API takes mutual TLS only: health checks present the admin credential published for the address. */
const secured = (address: string) => {
  const channel = apiChannel(address);
  return { credentials: channel.credentials, channelOptions: channel.options };
};
import { startPeerServer, type PeerServer } from './peer/server.js';
import { Prng } from '../federation/testing/prng.js';

// The standard services as ordinary gRPC tools use them: grpc.health.v1
// Check and Watch, and server reflection (what grpcurl asks), through a
// real grpc-js client on 127.0.0.1, against the client API and peer servers.

const allianceId = Buffer.alloc(32, 0x3c);
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function replica(): Promise<Replica> {
  const keyPair = generateKeyPair();
  const members = new Membership([{ nodeId: nodeIdOf(keyPair.publicKey), publicKey: keyPair.publicKey, city: 'Kunming', regionCode: '530100', endpoints: [] }]);
  const transport = new Bus().transport(nodeIdOf(keyPair.publicKey)); // alone: no peer answers
  const opened = await Replica.open({ allianceId, keyPair, members }, { store: new MemoryStore(), transport, clock: { nowMs: () => Date.now() }, random: new Prng('test').random() });
  cleanups.push(() => opened.close());
  return opened;
}

async function apiServer(): Promise<ApiServer> {
  const server = await startTestApi({ replica: await replica(), clock: { nowMs: () => Date.now() }, freshnessBudgetMs: 60_000, city: 'Kunming', allianceId, startedAtMs: Date.now() },
  );
  cleanups.push(() => server.stop());
  return server;
}

function clientOf<T extends Client>(protoFile: string, includeDir: string, service: string, address: string): T {
  const loaded = loadPackageDefinition(loadSync(protoFile, { includeDirs: [includeDir], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true }));
  const Constructor = service.split('.').reduce<unknown>((node, part) => (node as GrpcObject)[part], loaded) as ServiceClientConstructor;
  const channel = apiChannel(address);
  const client = new Constructor(address, channel.credentials, channel.options) as unknown as T;
  cleanups.push(() => client.close());
  return client;
}

interface HealthClient extends Client {
  watch(request: { service: string }): ClientReadableStream<{ status: string }>;
}

const healthRoot = join(dirname(healthProtoPath), '..', '..');
const reflectionProto = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '..', 'proto');

/** What grpcurl does for `list` and `describe`: one reflection stream, one request, one answer. */
async function reflect(address: string, request: Record<string, unknown>): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const client = clientOf<Client & { ServerReflectionInfo(): any }>('grpc/reflection/v1/reflection.proto', reflectionProto, 'grpc.reflection.v1.ServerReflection', address); // eslint-disable-line @typescript-eslint/no-explicit-any
  const call = client.ServerReflectionInfo();
  const answer = new Promise<Record<string, any>>((resolve, reject) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    call.on('data', resolve);
    call.on('error', reject);
  });
  call.write(request);
  call.end();
  return answer;
}

describe('grpc.health.v1', () => {
  it('answers SERVING for the client API and each of its services, NOT_FOUND for others', async () => {
    const server = await apiServer();
    const address = `127.0.0.1:${server.port}`;
    expect(await checkHealth(address, '', { timeoutMs: 5000, ...secured(address) })).toBe('SERVING');
    expect(await checkHealth(address, 'tongxing.api.v1.NodeService', { timeoutMs: 5000, ...secured(address) })).toBe('SERVING');
    expect(await checkHealth(address, 'tongxing.api.v1.SanctionService', { timeoutMs: 5000, ...secured(address) })).toBe('SERVING');
    expect(await checkHealth(address, 'no.such.Service', { timeoutMs: 5000, ...secured(address) })).toBe('call failed: NOT_FOUND');
  });

  it('tells watchers NOT_SERVING when the server stops, and ends their streams so the stop is not held up', async () => {
    const server = await apiServer();
    const address = `127.0.0.1:${server.port}`;
    const health = clientOf<HealthClient>('health/v1/health.proto', healthRoot, 'grpc.health.v1.Health', address);
    const watch = health.watch({ service: '' });
    const seen: string[] = [];
    const ended = new Promise<void>((resolve) => {
      watch.on('data', (message: { status: string }) => seen.push(message.status));
      watch.on('end', resolve);
      watch.on('error', () => resolve());
    });
    while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(seen).toEqual(['SERVING']);
    await server.stop();
    await ended;
    expect(seen).toEqual(['SERVING', 'NOT_SERVING']);
    expect(await checkHealth(address, '', { timeoutMs: 2000, ...secured(address) })).toMatch(/^call failed: (UNAVAILABLE|DEADLINE_EXCEEDED)$/);
  });

  it('answers on the peer server too', async () => {
    const server: PeerServer = await startPeerServer(
      { listen: '127.0.0.1:0' },
      { replica: await replica(), members: new Membership([]), allianceId, clock: { nowMs: () => Date.now() } },
    );
    cleanups.push(() => server.stop());
    const address = `127.0.0.1:${server.port}`;
    expect(await checkHealth(address, '', { timeoutMs: 5000 })).toBe('SERVING');
    expect(await checkHealth(address, 'tongxing.federation.v1.PeerService', { timeoutMs: 5000 })).toBe('SERVING');
  });
});

describe('server reflection', () => {
  it('lists the services the client API serves and describes them, as grpcurl asks', async () => {
    const server = await apiServer();
    const address = `127.0.0.1:${server.port}`;
    const listed = await reflect(address, { list_services: '*' });
    const names = (listed.list_services_response.service as Array<{ name: string }>).map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['tongxing.api.v1.NodeService', 'tongxing.api.v1.EntityService', 'tongxing.api.v1.SanctionService', 'grpc.health.v1.Health']));
    expect(names.every((name) => name.startsWith('tongxing.api.v1.') || name === 'grpc.health.v1.Health')).toBe(true);

    const described = await reflect(address, { file_containing_symbol: 'tongxing.api.v1.NodeService' });
    const files = described.file_descriptor_response.file_descriptor_proto as Buffer[];
    expect(files.length).toBeGreaterThan(0);
    // The descriptor names the Backup method and the messages it streams.
    const text = Buffer.concat(files).toString('latin1');
    expect(text).toContain('Backup');
    expect(text).toContain('BackupResponse');
  });
});
