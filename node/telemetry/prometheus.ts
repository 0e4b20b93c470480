import { createServer, type Server } from 'node:http';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { ValidationError } from '../../federation/errors.js';

// The Prometheus endpoint: GET /metrics on the configured address, served by
// our own HTTP server. The exporter's own server is not used: its constructor
// turns port 0 into 9464 (`config.port || ... || 9464`) and it never tells the
// bound port.

export interface MetricsEndpoint {
  readonly port: number;
  /** Closes the listener and every open connection; the port is free when this resolves. */
  close(): Promise<void>;
}

/** `host:port` → where to listen; `''` → undefined (no endpoint). ValidationError naming metricsListen otherwise. */
export function parseListen(value: string): { host: string; port: number } | undefined {
  if (value === '') return undefined;
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65_535) throw new ValidationError('metricsListen', `"${value}" is not host:port (port 0-65535; IPv6 as [addr]:port)`);
  return { host: (match[1] ?? match[2])!, port };
}

/** Serves `exporter` at /metrics (404 elsewhere). A port that cannot be bound is a ValidationError naming metricsListen. */
export async function serveMetrics(listen: { host: string; port: number }, exporter: PrometheusExporter, listenText: string): Promise<MetricsEndpoint> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (request.method === 'GET' && path === '/metrics') exporter.getMetricsRequestHandler(request, response);
    else response.writeHead(404).end();
  });
  let port: number;
  try {
    port = await listenOn(server, listen.host, listen.port);
  } catch (error) {
    throw new ValidationError('metricsListen', `cannot listen on ${listenText}: ${(error as Error).message}`);
  }
  return { port, close: () => closeServer(server) };
}

function listenOn(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      const address = server.address();
      if (address === null || typeof address === 'string') return reject(new Error(`unexpected address ${String(address)}`));
      // The endpoint must not keep the process alive on its own: the node's stop() closes it.
      server.unref();
      resolve(address.port);
    });
  });
}

/** Closes the listener and every open connection (a scraper's keep-alive would otherwise hold the close). */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}
