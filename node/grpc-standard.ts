import { dirname, resolve } from 'node:path';
import {
  credentials as grpcCredentials,
  makeGenericClientConstructor,
  status,
  type ChannelCredentials,
  type sendUnaryData,
  type Server,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadFileDescriptorSetFromBuffer, loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { protoPath as healthProtoPath, service as healthService } from 'grpc-health-check';
import { TongxingError } from '../federation/errors.js';

// The standard gRPC services every Tongxing server adds beside its own, so
// that ordinary tools work against a node: grpc.health.v1 (Kubernetes gRPC
// probes, grpc_health_probe, load balancers) and, on the client API, server
// reflection (grpcurl list/describe/call without local .proto files).
//
// Health is served here on grpc-health-check's service definition rather than
// with its HealthImplementation, which cannot end Watch streams: a watcher
// would hold the server's graceful shutdown open until it is forced.

/** Serving status as grpc.health.v1 names it. */
export type ServingStatus = 'SERVING' | 'NOT_SERVING';

export interface StandardServicesInit {
  /** The server's own services: each gets a health status under its full name, beside the overall status (service ""). */
  readonly services: readonly ServiceDefinition[];
  /**
   * A serialized google.protobuf.FileDescriptorSet that defines the server's
   * services (node/api/schema.ts, generated from proto/): reflection
   * describes those it serves (and grpc.health.v1), with every message they
   * use. Absent: no reflection.
   */
  readonly reflect?: Uint8Array;
}

export interface StandardServices {
  /** The status Check answers for `service` ("" overall), or undefined for a service this server does not offer. */
  status(service: string): ServingStatus | undefined;
  /**
   * The server is stopping: every status becomes NOT_SERVING, watchers are told
   * and their streams ended (so a graceful shutdown is not held open by them).
   * Call before the server's tryShutdown. Idempotent.
   */
  stopping(): void;
}

/** `tongxing.api.v1.NodeService` from a generated definition (its methods' paths are `/<service>/<method>`). */
export function serviceNameOf(definition: ServiceDefinition): string {
  const first = Object.values(definition)[0];
  if (!first) throw new TongxingError('a gRPC service definition without methods');
  return first.path.split('/')[1]!;
}

/** Adds grpc.health.v1 (and reflection when `init.reflect` is given) to `server`, all SERVING. Call before bindAsync. */
export function addStandardServices(server: Pick<Server, 'addService'>, init: StandardServicesInit): StandardServices {
  const statuses = new Map<string, ServingStatus>([['', 'SERVING'], ...init.services.map((d): [string, ServingStatus] => [serviceNameOf(d), 'SERVING'])]);
  const watchers = new Set<{ service: string; call: ServerWritableStream<{ service: string }, { status: string }> }>();
  let stopped = false;

  server.addService(healthService as unknown as ServiceDefinition, {
    check(call: ServerUnaryCall<{ service: string }, { status: string }>, callback: sendUnaryData<{ status: string }>) {
      const found = statuses.get(call.request.service);
      if (found === undefined) callback({ code: status.NOT_FOUND, details: `no service ${JSON.stringify(call.request.service)} here` });
      else callback(null, { status: found });
    },
    watch(call: ServerWritableStream<{ service: string }, { status: string }>) {
      const service = call.request.service;
      call.write({ status: statuses.get(service) ?? 'SERVICE_UNKNOWN' });
      if (stopped) return void call.end();
      const watcher = { service, call };
      watchers.add(watcher);
      call.on('cancelled', () => watchers.delete(watcher));
      call.on('close', () => watchers.delete(watcher));
    },
    list(_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<{ statuses: Record<string, { status: string }> }>) {
      callback(null, { statuses: Object.fromEntries([...statuses].map(([service, s]) => [service, { status: s }])) });
    },
  });

  if (init.reflect !== undefined) {
    const served = [...statuses.keys()].filter((name) => name !== '');
    new ReflectionService(reflectionDefinition(init.reflect), { services: [...served, 'grpc.health.v1.Health'] }).addToServer(server);
  }

  return {
    status: (service) => statuses.get(service),
    stopping() {
      if (stopped) return;
      stopped = true;
      for (const service of statuses.keys()) statuses.set(service, 'NOT_SERVING');
      for (const { service, call } of watchers) {
        if (statuses.has(service)) call.write({ status: 'NOT_SERVING' });
        call.end();
      }
      watchers.clear();
    },
  };
}

/** What a grpc.health.v1 Check answers, or why it could not: the gRPC status name of a failed call. */
export type HealthAnswer = ServingStatus | 'UNKNOWN' | 'SERVICE_UNKNOWN' | `call failed: ${string}`;

/**
 * One grpc.health.v1 Check of `service` ("" overall) at `address`, as
 * grpc_health_probe or a Kubernetes gRPC probe asks it. Never rejects.
 */
export function checkHealth(address: string, service = '', options: { timeoutMs: number; credentials?: ChannelCredentials; channelOptions?: Record<string, string | number> }): Promise<HealthAnswer> {
  const Client = makeGenericClientConstructor(healthService as unknown as ServiceDefinition, 'Health');
  const client = new Client(address, options.credentials ?? grpcCredentials.createInsecure(), options.channelOptions);
  return new Promise((resolve) => {
    (client as unknown as { check: Function }).check( // eslint-disable-line @typescript-eslint/no-unsafe-function-type
      { service },
      { deadline: Date.now() + options.timeoutMs },
      (error: ServiceError | null, response: { status: HealthAnswer }) => {
        client.close();
        resolve(error ? `call failed: ${status[error.code] ?? error.code}` : response.status);
      },
    );
  });
}

const reflectionDefinitions = new WeakMap<Uint8Array, PackageDefinition>();

/** Decoded once per process and descriptor set: every API server of a test process shares it. */
function reflectionDefinition(descriptorSet: Uint8Array): PackageDefinition {
  let definition = reflectionDefinitions.get(descriptorSet);
  if (!definition) {
    // proto/health/v1/health.proto inside the package: its include root is two folders up.
    const healthRoot = resolve(dirname(healthProtoPath), '..', '..');
    definition = { ...loadFileDescriptorSetFromBuffer(Buffer.from(descriptorSet)), ...loadSync('health/v1/health.proto', { includeDirs: [healthRoot] }) };
    reflectionDefinitions.set(descriptorSet, definition);
  }
  return definition;
}
