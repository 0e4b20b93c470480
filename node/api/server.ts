import { Server, ServerCredentials, type handleUnaryCall, type ServerErrorResponse, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { TongxingError } from '../../federation/errors.js';
import { apiRequestBytesMax, apiShutdownGraceMs } from '../../federation/limits.js';
import { apiContext, statusOf, type ApiServerComponents, type UnaryHandler } from './service.js';
import { apiServices } from './services.js';

// The client API of one node over gRPC: trading platforms and the CLI call it
// on their own node. Insecure gRPC: it listens on the trading center's internal
// network, never between members. Reads answer from the local store; writes
// append to this node's own log and answer once the record is durable.

export { AlreadyExistsError, NotFoundError, PreconditionError, statusOf, type ApiServerComponents } from './service.js';

export interface ApiServerInit {
  /** host:port; port 0 picks a free one (see ApiServer.port). */
  readonly listen: string;
}

export interface ApiServer {
  /** The bound port (the chosen one when `listen` asked for port 0). */
  readonly port: number;
  /** Refuses new calls, lets in-flight ones finish for up to apiShutdownGraceMs, then cancels them. Idempotent. */
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

/** Binds the client API on `init.listen`; rejects when the address cannot be bound. */
export async function startApiServer(init: ApiServerInit, components: ApiServerComponents): Promise<ApiServer> {
  const server = new Server({ 'grpc.max_receive_message_length': apiRequestBytesMax });
  for (const service of apiServices(apiContext(components))) {
    const implementation: UntypedServiceImplementation = {};
    for (const [method, handler] of Object.entries(service.handlers)) implementation[method] = unary(handler);
    server.addService(service.definition, implementation);
  }
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
      stopped ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, apiShutdownGraceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return stopped;
    },
  };
}
