// Metrics and traces of one node, served to Prometheus over HTTP.
// docs/METRICS.md is the reference; keep it and `metricDefinitions` in step
// (telemetry.test.ts checks every name appears there).
//
// Each Telemetry owns its providers; nothing is registered with the global
// OpenTelemetry API. Tests run several nodes in one process, and a global
// MeterProvider would send every node's counts to whichever registered first.
// For the same reason span parenting uses a per-instance AsyncLocalStorage
// instead of the global context manager: a span opened by node A's sync round
// never becomes the parent of node B's spans when both run in one process.

import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, type Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ROOT_CONTEXT, SpanStatusCode, trace, ValueType, type Context, type HrTime } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
// @opentelemetry/resources is a direct dependency of sdk-metrics and
// sdk-trace-base (same 2.12.0 pin); it is the only way to build a Resource.
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  type CollectionResult,
  type GaugeMetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ValidationError } from '../federation/errors.js';
import type { ReplicaEvent } from '../federation/replica.js';
import { spansKeptMax } from '../federation/limits.js';

export interface TelemetryInit {
  /** `host:port` of the Prometheus endpoint (`[::1]:9464` for IPv6); port 0 picks a free port; `''` serves no endpoint. */
  readonly metricsListen: string;
  /** This node's id: the `service.instance.id` resource attribute (label of `target_info`). */
  readonly nodeId: string;
  /** This node's city: the `tongxing.city` resource attribute. */
  readonly city: string;
  /**
   * Not supported yet: startTelemetry rejects when set, rather than silently
   * dropping spans. Spans are kept in memory (`recentSpans`) meanwhile.
   */
  readonly otlpEndpoint?: string;
}

export interface ReplicationLag {
  readonly member: string;
  readonly city: string;
  /** Entries known to exist (a verified head) but not stored yet. */
  readonly entries: number;
  /** Age of the newest verified head of this member; undefined until one is seen (no sample is exported). */
  readonly ageMs: number | undefined;
}

export type SpanAttributes = Record<string, string | number | boolean>;

export interface Telemetry {
  /** The bound port of the Prometheus endpoint; undefined when it is disabled. */
  readonly metricsPort: number | undefined;
  /** Counts ingested entries, verification failures, equivocations and pulls. */
  onReplicaEvent(event: ReplicaEvent): void;
  /** One gossip message: sent (`out`, no verdict) or received with the validator's verdict. */
  gossipMessage(direction: 'in' | 'out', verdict?: 'accept' | 'reject' | 'ignore'): void;
  /**
   * Replication lag per member: `read` is called once per scrape and its answer
   * exported as gauges. A later call replaces the earlier reader. `read` must be
   * quick and must not throw (a throw drops the lag gauges from that scrape).
   */
  observeLag(read: () => ReadonlyArray<ReplicationLag>): void;
  /**
   * Runs fn in a span (nested calls become child spans) and records its
   * duration in `tongxing_operation_duration_ms{operation=name}`. A throw or
   * rejection is recorded on the span (exception event, ERROR status) and
   * rethrown unchanged. `name` must come from a small fixed set: it is a label.
   */
  span<T>(name: string, attributes: SpanAttributes, fn: () => Promise<T>): Promise<T>;
  /** The most recent finished spans, oldest first, at most `spansKeptMax`. */
  recentSpans(): ReadableSpan[];
  /** Closes the HTTP endpoint (the port is free when this resolves) and shuts the providers down. Idempotent. */
  stop(): Promise<void>;
}

/** Bucket bounds of operation durations: a local round takes milliseconds, a pull from a slow member seconds. */
export const operationDurationBoundariesMs = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000];

interface MetricDefinition {
  /** The name as scraped: Prometheus style, unit in the name, `_total` on counters. */
  readonly name: string;
  readonly kind: 'counter' | 'gauge' | 'histogram';
  /** UCUM unit, as OpenTelemetry expects it (`{entry}` is an annotated count). */
  readonly unit: string;
  readonly labels: readonly string[];
  readonly description: string;
}

/** Every metric this module exports. */
export const metricDefinitions = {
  entriesIngested: {
    name: 'tongxing_entries_ingested_total',
    kind: 'counter',
    unit: '{entry}',
    labels: ['source'],
    description: 'Log entries stored, by how they arrived: local (written here), gossip (rode on a head announcement), pull (fetched over gRPC).',
  },
  verificationFailures: {
    name: 'tongxing_verification_failures_total',
    kind: 'counter',
    unit: '{failure}',
    labels: [],
    description: 'Heads, entry ranges or proofs from a peer that failed verification and were rejected.',
  },
  equivocations: {
    name: 'tongxing_equivocations_total',
    kind: 'counter',
    unit: '{equivocation}',
    labels: [],
    description: 'Members found to have signed two different histories (a proof was recorded and the member quarantined).',
  },
  pulls: {
    name: 'tongxing_pulls_total',
    kind: 'counter',
    unit: '{pull}',
    labels: ['result'],
    description: 'Attempts to pull one author\'s missing entries from one peer, by result: ok (reached the target) or failed.',
  },
  gossipMessages: {
    name: 'tongxing_gossip_messages_total',
    kind: 'counter',
    unit: '{message}',
    labels: ['direction', 'verdict'],
    description: 'Gossip announcements sent (direction out, no verdict) and received (direction in, with the validator verdict).',
  },
  replicationLagEntries: {
    name: 'tongxing_replication_lag_entries',
    kind: 'gauge',
    unit: '{entry}',
    labels: ['member', 'city'],
    description: 'Entries of a member\'s log known to exist (verified head) but not yet stored here.',
  },
  replicationLag: {
    name: 'tongxing_replication_lag_ms',
    kind: 'gauge',
    unit: 'ms',
    labels: ['member', 'city'],
    description: 'Age of the newest verified head of a member: how stale this node\'s picture of that member\'s log is.',
  },
  operationDuration: {
    name: 'tongxing_operation_duration_ms',
    kind: 'histogram',
    unit: 'ms',
    labels: ['operation', 'outcome'],
    description: 'Duration of traced operations (sync rounds, peer calls) by span name and outcome (ok or error).',
  },
} as const satisfies Record<string, MetricDefinition>;

const scopeName = 'tongxing';

export async function startTelemetry(init: TelemetryInit): Promise<Telemetry> {
  if (init.otlpEndpoint !== undefined && init.otlpEndpoint !== '') {
    throw new ValidationError('otlpEndpoint', 'OTLP export is not supported yet; leave it unset (spans are kept in memory)');
  }
  const listen = parseListen(init.metricsListen);
  const resource = defaultResource().merge(
    resourceFromAttributes({ 'service.name': 'tongxing', 'service.instance.id': init.nodeId, 'tongxing.city': init.city }),
  );

  // The exporter's own server is not used: its constructor turns port 0 into
  // 9464 (`config.port || ... || 9464`) and it never tells the bound port.
  // A reader added later (OTLP metrics) must get `lag` as a producer too.
  const lag = new LagGauges(resource);
  const exporter = listen ? new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, metricProducers: [lag] }) : undefined;
  const meterProvider = new MeterProvider({ resource, readers: exporter ? [exporter] : [] });
  const spans = new RecentSpans(spansKeptMax);
  const tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [spans] });

  let server: Server | undefined;
  let metricsPort: number | undefined;
  if (listen && exporter) {
    server = createServer((request, response) => {
      const path = (request.url ?? '').split('?')[0];
      if (request.method === 'GET' && path === '/metrics') exporter.getMetricsRequestHandler(request, response);
      else response.writeHead(404).end();
    });
    try {
      metricsPort = await listenOn(server, listen.host, listen.port);
    } catch (error) {
      await Promise.allSettled([meterProvider.shutdown(), tracerProvider.shutdown()]);
      throw new ValidationError('metricsListen', `cannot listen on ${init.metricsListen}: ${(error as Error).message}`);
    }
  }

  const meter = meterProvider.getMeter(scopeName);
  const counter = (d: MetricDefinition) => meter.createCounter(d.name, { description: d.description, unit: d.unit });
  const m = metricDefinitions;
  const entriesIngested = counter(m.entriesIngested);
  const verificationFailures = counter(m.verificationFailures);
  const equivocations = counter(m.equivocations);
  const pulls = counter(m.pulls);
  const gossipMessages = counter(m.gossipMessages);
  const operationDuration = meter.createHistogram(m.operationDuration.name, {
    description: m.operationDuration.description,
    unit: m.operationDuration.unit,
    advice: { explicitBucketBoundaries: operationDurationBoundariesMs },
  });

  // Every series of a bounded label set exists from the start at 0, so
  // rate() and absent() work before the first event.
  for (const source of ['local', 'gossip', 'pull']) entriesIngested.add(0, { source });
  verificationFailures.add(0);
  equivocations.add(0);
  for (const result of ['ok', 'failed']) pulls.add(0, { result });
  gossipMessages.add(0, { direction: 'out' });
  for (const verdict of ['accept', 'reject', 'ignore']) gossipMessages.add(0, { direction: 'in', verdict });

  const tracer = tracerProvider.getTracer(scopeName);
  const activeContext = new AsyncLocalStorage<Context>();

  let stopped: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    if (server) await closeServer(server);
    await Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()]);
  };

  return {
    metricsPort,

    onReplicaEvent(event: ReplicaEvent): void {
      switch (event.type) {
        case 'ingested':
          entriesIngested.add(event.toSeq - event.fromSeq + 1, { source: event.source });
          break;
        case 'rejected':
          verificationFailures.add(1);
          break;
        case 'equivocation':
          equivocations.add(1);
          break;
        case 'pull':
          pulls.add(1, { result: event.ok ? 'ok' : 'failed' });
          break;
      }
    },

    gossipMessage(direction, verdict): void {
      gossipMessages.add(1, verdict === undefined ? { direction } : { direction, verdict });
    },

    observeLag(read): void {
      lag.read = read;
    },

    async span<T>(name: string, attributes: SpanAttributes, fn: () => Promise<T>): Promise<T> {
      const parent = activeContext.getStore() ?? ROOT_CONTEXT;
      const span = tracer.startSpan(name, { attributes }, parent);
      const startedMs = performance.now();
      let outcome: 'ok' | 'error' = 'ok';
      try {
        return await activeContext.run(trace.setSpan(parent, span), fn);
      } catch (error) {
        outcome = 'error';
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        throw error;
      } finally {
        span.end();
        operationDuration.record(performance.now() - startedMs, { operation: name, outcome });
      }
    },

    recentSpans(): ReadableSpan[] {
      return spans.list();
    },

    stop: () => (stopped ??= stop()),
  };
}

/** `host:port` → where to listen; `''` → undefined (no endpoint). */
function parseListen(value: string): { host: string; port: number } | undefined {
  if (value === '') return undefined;
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65_535) throw new ValidationError('metricsListen', `"${value}" is not host:port (port 0-65535; IPv6 as [addr]:port)`);
  return { host: (match[1] ?? match[2])!, port };
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

/**
 * The replication lag gauges, produced at collection time from the latest
 * `observeLag` reader. Not observable gauges: with the cumulative temporality
 * Prometheus needs, sdk-metrics 2.12 keeps exporting an attribute set's last
 * value after the callback stops observing it, so a member whose age became
 * unknown (or that left) would show a frozen, falsely fresh lag.
 */
class LagGauges implements MetricProducer {
  read: (() => ReadonlyArray<ReplicationLag>) | undefined;
  readonly #resource: Resource;

  constructor(resource: Resource) {
    this.#resource = resource;
  }

  async collect(): Promise<CollectionResult> {
    const result = (metrics: GaugeMetricData[], errors: unknown[]): CollectionResult => ({
      resourceMetrics: { resource: this.#resource, scopeMetrics: metrics.length > 0 ? [{ scope: { name: scopeName }, metrics }] : [] },
      errors,
    });
    if (!this.read) return result([], []);
    let lags: ReadonlyArray<ReplicationLag>;
    try {
      lags = this.read();
    } catch (error) {
      return result([], [error]);
    }
    const now = hrTimeNow();
    const point = (value: number, lag: ReplicationLag) => ({ startTime: now, endTime: now, attributes: { member: lag.member, city: lag.city }, value });
    const gauge = (d: MetricDefinition, dataPoints: GaugeMetricData['dataPoints']): GaugeMetricData => ({
      descriptor: { name: d.name, description: d.description, unit: d.unit, valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints,
    });
    return result(
      [
        gauge(metricDefinitions.replicationLagEntries, lags.map((lag) => point(lag.entries, lag))),
        gauge(metricDefinitions.replicationLag, lags.flatMap((lag) => (lag.ageMs === undefined ? [] : [point(lag.ageMs, lag)]))),
      ],
      [],
    );
  }
}

function hrTimeNow(): HrTime {
  const ms = Date.now();
  return [Math.floor(ms / 1000), (ms % 1000) * 1_000_000];
}

/**
 * A span processor that keeps the last `capacity` finished spans: the default
 * "exporter", so spans exist (and tests can read them) without printing or
 * sending anything. An OTLP exporter would sit beside it as a batch processor.
 */
class RecentSpans implements SpanProcessor {
  readonly #capacity: number;
  readonly #ring: ReadableSpan[] = [];
  #next = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#ring.length < this.#capacity) this.#ring.push(span);
    else this.#ring[this.#next] = span;
    this.#next = (this.#next + 1) % this.#capacity;
  }

  list(): ReadableSpan[] {
    if (this.#ring.length < this.#capacity) return [...this.#ring];
    return [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
  }

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {}
}
