import {
  Server,
  ServerCredentials,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type ServerErrorResponse,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { TongxingError } from '../../federation/errors.js';
import { apiRequestBytesMax, apiShutdownGraceMs } from '../../federation/limits.js';
import { drained, shutdownServer } from '../grpc-server.js';
import { addStandardServices } from '../grpc-standard.js';
import { apiContext, statusOf, type ApiServerComponents, type ApiService, type StreamHandler, type UnaryHandler } from './service.js';
import { apiServices } from './services.js';

// The client API of one node over gRPC: trading platforms and the CLI call it
// on their own node. Insecure gRPC: it listens on the trading center's internal
// network, never between members. Reads answer from the local store; writes
// append to this node's own log and answer once the record is durable.
// grpc.health.v1 and server reflection are served beside (grpc-standard.ts).

export { AlreadyExistsError, NotFoundError, PreconditionError, statusOf, type ApiServerComponents } from './service.js';

export interface ApiServerInit {
  /** host:port; port 0 picks a free one (see ApiServer.port). */
  readonly listen: string;
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

function unary(handler: UnaryHandler): handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    handler(call.request).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toServiceError(error)),
    );
  };
}

/** Writes each response as the client takes it; a cancelled call stops the iterator (its finally blocks run). */
function serverStream(handler: StreamHandler): handleServerStreamingCall<unknown, unknown> {
  return (call) => {
    void (async () => {
      try {
        for await (const response of handler(call.request)) {
          if (call.cancelled || call.destroyed) return;
          if (!call.write(response)) await drained(call);
        }
        if (!call.cancelled && !call.destroyed) call.end();
      } catch (error) {
        if (!call.cancelled && !call.destroyed) call.emit('error', toServiceError(error));
      }
    })();
  };
}

/**
 * Binds the client API on `init.listen`; rejects when the address cannot be bound.
 * Given services are served as they are, so the HTTP/JSON API (http.ts) can
 * serve the same instances and share their state.
 */
export async function startApiServer(init: ApiServerInit, components: ApiServerComponents | ApiService[]): Promise<ApiServer> {
  const server = new Server({ 'grpc.max_receive_message_length': apiRequestBytesMax });
  const services = Array.isArray(components) ? components : apiServices(apiContext(components));
  for (const service of services) {
    const implementation: UntypedServiceImplementation = {};
    for (const [method, handler] of Object.entries(service.handlers)) implementation[method] = unary(handler);
    for (const [method, handler] of Object.entries(service.streams ?? {})) implementation[method] = serverStream(handler);
    server.addService(service.definition, implementation);
  }
  const standard = addStandardServices(server, { services: services.map((s) => s.definition), reflect: 'tongxing/api/v1' });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(init.listen, ServerCredentials.createInsecure(), (error, bound) => {
      if (error) reject(new TongxingError(`client API cannot listen on ${init.listen}: ${error.message}`));
      else resolve(bound);
    });
  });
  let stopped: Promise<void> | undefined;
  return {
    port,
    stop() {
      standard.stopping();
      stopped ??= shutdownServer(server, apiShutdownGraceMs);
      return stopped;
    },
  };
}
