import { createServer as createTlsServer } from 'node:tls';
import {
  Server,
  ServerCredentials,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type Metadata,
  type ServerErrorResponse,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { TongxingError } from '../../federation/errors.js';
import { apiRequestBytesMax, apiShutdownGraceMs } from '../limits.js';
import { drained, shutdownServer } from '../grpc-server.js';
import { addStandardServices } from '../grpc-standard.js';
import { approvalHeader, decodeOperator, operatorHeader, type AccessGuard, type CallIdentity } from '../access/guard.js';
import { ApiConnections, type ApiTls } from '../access/tls.js';
import { parseListen } from '../listen.js';
import { statusOf } from '../error-table.js';
import type { ApiService, StreamHandler, UnaryHandler } from './service.js';
import { apiSchema } from './schema.js';

// The client API of one node over gRPC: trading platforms and the CLI call it
// on their own node, over mutual TLS with a certificate the node's access
// registry pins; every call passes the access guard (node/access/guard.ts)
// before its handler runs. Reads answer from the local store; writes append
// to this node's own log and answer once the record is durable.
// grpc.health.v1 and server reflection are served beside (grpc-standard.ts).

export interface ApiServerInit {
  /** host:port; port 0 picks a free one (see ApiServer.port). */
  readonly listen: string;
  /** Who may call, and the audit trail. */
  readonly guard: AccessGuard;
  readonly tls: ApiTls;
}

export interface ApiServer {
  /** The bound port (the chosen one when `listen` asked for port 0). */
  readonly port: number;
  /** Health turns NOT_SERVING; refuses new calls, lets in-flight ones finish for up to apiShutdownGraceMs, then cancels them. Idempotent. */
  stop(): Promise<void>;
}

function toServiceError(error: unknown): ServerErrorResponse {
  const { code, details } = statusOf(error);
  return Object.assign(new Error(details), { code, details });
}

const text = (metadata: Metadata, key: string): string | undefined => {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : undefined;
};

/** What gRPC tells the guard about a call: its connection's client certificate and the callers' metadata. */
function identityOf(call: { getPeer(): string; metadata: Metadata }, connections: ApiConnections): CallIdentity {
  const approval = call.metadata.get(`${approvalHeader}-bin`)[0];
  return {
    transport: 'grpc',
    certificateDer: connections.certificateOf(call.getPeer()),
    operator: decodeOperator(text(call.metadata, operatorHeader)),
    approval: Buffer.isBuffer(approval) ? approval : undefined,
  };
}

interface Served {
  readonly path: string;
  readonly guard: AccessGuard;
  readonly connections: ApiConnections;
  readonly serialize: (request: unknown) => Buffer;
}

function unary(handler: UnaryHandler, { path, guard, connections, serialize }: Served): handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    let identity: CallIdentity;
    try {
      identity = identityOf(call, connections);
    } catch (error) {
      return callback(toServiceError(error));
    }
    guard.run(path, call.request, () => serialize(call.request), identity, (caller) => handler(call.request, caller)).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toServiceError(error)),
    );
  };
}

/** Writes each response as the client takes it; a cancelled call stops the iterator (its finally blocks run). */
function serverStream(handler: StreamHandler, { path, guard, connections, serialize }: Served): handleServerStreamingCall<unknown, unknown> {
  return (call) => {
    void (async () => {
      let admission;
      try {
        admission = guard.admit(path, call.request, () => serialize(call.request), identityOf(call, connections));
      } catch (error) {
        call.emit('error', toServiceError(error));
        return;
      }
      try {
        for await (const response of handler(call.request, admission.caller)) {
          if (call.cancelled || call.destroyed) return;
          if (!call.write(response)) await drained(call);
        }
        await admission.finish();
        if (!call.cancelled && !call.destroyed) call.end();
      } catch (error) {
        await admission.finish(error).catch(() => undefined);
        if (!call.cancelled && !call.destroyed) call.emit('error', toServiceError(error));
      } finally {
        await admission.finish(call.cancelled ? new Error('cancelled by the client') : undefined);
      }
    })();
  };
}

/**
 * Binds the client API on `init.listen`; rejects when the address cannot be bound.
 * Given services are served as they are, so the HTTP/JSON API (http.ts) can
 * serve the same instances and share their state.
 */
export async function startApiServer(init: ApiServerInit, services: readonly ApiService[]): Promise<ApiServer> {
  const server = new Server({ 'grpc.max_receive_message_length': apiRequestBytesMax });
  const connections = new ApiConnections();
  for (const service of services) {
    const implementation: UntypedServiceImplementation = {};
    const served = (method: string): Served => {
      const definition = service.definition[method]!;
      return { path: definition.path, guard: init.guard, connections, serialize: (request) => definition.requestSerialize(request) };
    };
    for (const [method, handler] of Object.entries(service.handlers)) implementation[method] = unary(handler, served(method));
    for (const [method, handler] of Object.entries(service.streams ?? {})) implementation[method] = serverStream(handler, served(method));
    server.addService(service.definition, implementation);
  }
  const standard = addStandardServices(server, { services: services.map((s) => s.definition), reflect: apiSchema().bytes });
  // TLS is terminated here, not by grpc-js, so each connection's client certificate is read once at its handshake.
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const tlsServer = createTlsServer(init.tls.grpcOptions(), (socket) => {
    connections.add(socket);
    injector.injectConnection(socket);
  });
  tlsServer.on('tlsClientError', () => undefined); // a refused handshake (unpinned certificate) is the caller's problem
  init.tls.follow(tlsServer);
  const { host, port: requested } = parseListen(init.listen, 'client API');
  const port = await new Promise<number>((resolve, reject) => {
    tlsServer.once('error', (error) => reject(new TongxingError(`client API cannot listen on ${init.listen}: ${error.message}`)));
    tlsServer.listen(requested, host, () => resolve((tlsServer.address() as { port: number }).port));
  });
  let stopped: Promise<void> | undefined;
  return {
    port,
    stop() {
      standard.stopping();
      stopped ??= (async () => {
        const closed = new Promise<void>((resolve) => tlsServer.close(() => resolve()));
        await shutdownServer(server, apiShutdownGraceMs);
        injector.destroy();
        connections.destroyAll();
        await closed;
      })();
      return stopped;
    },
  };
}
