import type { Server, ServerWritableStream } from '@grpc/grpc-js';

// What both gRPC servers of a node (peer service, client API) do alike:
// stream with backpressure, and stop with a grace period.

/** Resolves when the stream can take more, or will never (cancelled, closed). */
export function drained(call: ServerWritableStream<unknown, unknown>): Promise<void> {
  return new Promise((resolve) => {
    if (call.destroyed) return resolve(); // 'close' has been or is about to be emitted
    const done = (): void => {
      call.off('drain', done);
      call.off('cancelled', done);
      call.off('close', done);
      resolve();
    };
    call.on('drain', done);
    call.on('cancelled', done);
    call.on('close', done);
  });
}

/**
 * Refuses new calls, lets in-flight ones finish for up to `graceMs`, then
 * cancels them; resolves once every connection has closed, gracefully or forced.
 */
export function shutdownServer(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => server.forceShutdown(), graceMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
