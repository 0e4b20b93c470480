// Metrics and traces of one node, served to Prometheus over HTTP and, when a
// collector is configured, pushed to it over OTLP/HTTP.
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
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
// @opentelemetry/resources is a direct dependency of sdk-metrics and
// sdk-trace-base (same 2.12.0 pin); it is the only way to build a Resource.
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type CollectionResult,
  type GaugeMetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ValidationError } from '../federation/errors.js';
import type { ReplicaEvent } from '../federation/replica.js';
import { freshnessCheckIntervalMs, ingestRateWindowMs, otlpExportTimeoutMs, otlpFinalPushMsMax, otlpSpansQueuedMax, spansKeptMax } from '../federation/limits.js';
import type { LogSpanContext } from './log.js';

export interface TelemetryInit {
  /** `host:port` of the Prometheus endpoint (`[::1]:9464` for IPv6); port 0 picks a free port; `''` serves no endpoint. */
  readonly metricsListen: string;
  /** This node's id: the `service.instance.id` resource attribute (label of `target_info`). */
  readonly nodeId: string;
  /** This node's city: the `tongxing.city` resource attribute. */
  readonly city: string;
  /**
   * Base URL of an OpenTelemetry collector's OTLP/HTTP receiver, e.g.
   * `http://collector:4318`: spans are sent to `<url>/v1/traces` (batched) and
   * metrics to `<url>/v1/metrics` every `otlpExportIntervalMs`, beside the
   * Prometheus endpoint. Unset or `''`: nothing is pushed.
   */
  readonly otlpEndpoint?: string;
  /** How often metrics are pushed over OTLP; default 15000. */
  readonly otlpExportIntervalMs?: number;
  /**
   * The alliance's freshness budget: a member whose newest head is older is
   * stale, and each time one becomes stale counts as a breach. Unset: none are counted.
   */
  readonly freshnessBudgetMs?: number;
  /** Wall clock for the ingest rate and breach times; default Date.now. */
  readonly nowMs?: () => number;
}

/** A member's replication as this node has sampled it since start. */
export interface MemberSync {
  /** Times the member's data became older than the freshness budget. */
  readonly breaches: number;
  /** Unix ms since when its data is older than the budget; undefined while fresh (or never heard). */
  readonly staleSinceMs: number | undefined;
  /** Unix ms since when entries of its log are known but not stored here; undefined while caught up. */
  readonly behindSinceMs: number | undefined;
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
  /** The span the calling code runs in (inside `span`'s fn), for log lines; undefined outside any. */
  activeSpanContext(): LogSpanContext | undefined;
  /** Entries stored per second (all sources) over the last `ingestRateWindowMs`, or since start when shorter. */
  ingestRatePerSecond(): number;
  /**
   * Per member (node id): freshness-budget breaches since start and since
   * when it is stale or behind, from sampling the lag reader every
   * `freshnessCheckIntervalMs` (and at this call). Empty until a reader is set.
   */
  memberSync(): ReadonlyMap<string, MemberSync>;
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
  freshnessBreaches: {
    name: 'tongxing_freshness_breaches_total',
    kind: 'counter',
    unit: '{breach}',
    labels: ['member', 'city'],
    description: 'Times a member\'s newest verified head became older than the alliance\'s freshness budget (sanctions checks then answer unknown-stale).',
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
  const otlp = parseOtlpEndpoint(init.otlpEndpoint ?? '');
  const otlpExportIntervalMs = init.otlpExportIntervalMs ?? 15_000;
  if (!Number.isInteger(otlpExportIntervalMs) || otlpExportIntervalMs < 100) {
    throw new ValidationError('otlpExportIntervalMs', `must be an integer of at least 100 ms; got ${otlpExportIntervalMs}`);
  }
  const nowMs = init.nowMs ?? Date.now;
  const listen = parseListen(init.metricsListen);
  const resource = defaultResource().merge(
    resourceFromAttributes({ 'service.name': 'tongxing', 'service.instance.id': init.nodeId, 'tongxing.city': init.city }),
  );

  // The exporter's own server is not used: its constructor turns port 0 into
  // 9464 (`config.port || ... || 9464`) and it never tells the bound port.
  // Every reader gets `lag` as a producer: the lag gauges are not SDK instruments.
  const lag = new LagGauges(resource);
  const exporter = listen ? new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, metricProducers: [lag] }) : undefined;
  const readers: Array<PrometheusExporter | PeriodicExportingMetricReader> = exporter ? [exporter] : [];
  const spanProcessors: SpanProcessor[] = [];
  const spans = new RecentSpans(spansKeptMax);
  spanProcessors.push(spans);
  if (otlp) {
    const timeoutMillis = Math.min(otlpExportTimeoutMs, otlpExportIntervalMs);
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${otlp}/v1/metrics`, timeoutMillis }),
        exportIntervalMillis: otlpExportIntervalMs,
        exportTimeoutMillis: timeoutMillis,
        metricProducers: [lag],
      }),
    );
    // Batched, bounded: while the collector is down spans beyond the queue are dropped, not kept.
    spanProcessors.push(
      new BatchSpanProcessor(new OTLPTraceExporter({ url: `${otlp}/v1/traces`, timeoutMillis: otlpExportTimeoutMs }), {
        maxQueueSize: otlpSpansQueuedMax,
        exportTimeoutMillis: otlpExportTimeoutMs,
      }),
    );
  }
  const meterProvider = new MeterProvider({ resource, readers });
  const tracerProvider = new BasicTracerProvider({ resource, spanProcessors });

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
  const freshnessBreaches = counter(m.freshnessBreaches);
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
  const ingestRate = new RateWindow(ingestRateWindowMs, nowMs);

  // Breaches are found by sampling: a member counts once per stretch of staleness.
  const sync = new Map<string, { breaches: number; staleSinceMs: number | undefined; behindSinceMs: number | undefined }>();
  const budget = init.freshnessBudgetMs ?? Number.POSITIVE_INFINITY;
  const checkFreshness = (): void => {
    if (!lag.read) return;
    let lags: ReadonlyArray<ReplicationLag>;
    try {
      lags = lag.read();
    } catch {
      return; // the replica is closing: the next check (if any) sees it again
    }
    const now = nowMs();
    for (const l of lags) {
      let record = sync.get(l.member);
      if (!record) {
        record = { breaches: 0, staleSinceMs: undefined, behindSinceMs: undefined };
        sync.set(l.member, record);
        freshnessBreaches.add(0, { member: l.member, city: l.city });
      }
      if (l.entries <= 0) record.behindSinceMs = undefined;
      else record.behindSinceMs ??= now;
      const stale = l.ageMs !== undefined && l.ageMs > budget;
      if (stale && record.staleSinceMs === undefined) {
        record.breaches++;
        record.staleSinceMs = now - (l.ageMs! - budget);
        freshnessBreaches.add(1, { member: l.member, city: l.city });
      } else if (!stale && l.ageMs !== undefined) {
        record.staleSinceMs = undefined;
      }
    }
  };
  // Sampled only with a budget to check against (a node always has one); memberSync() samples too.
  const freshnessTimer = init.freshnessBudgetMs === undefined ? undefined : setInterval(checkFreshness, freshnessCheckIntervalMs);
  freshnessTimer?.unref();

  let stopped: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    clearInterval(freshnessTimer);
    if (server) await closeServer(server);
    // Shutdown flushes: the OTLP readers push their last metrics and queued spans. A collector
    // that is down or slow costs at most otlpFinalPushMsMax of the stop, and no error.
    const flushed = Promise.allSettled([meterProvider.shutdown(), tracerProvider.shutdown()]);
    if (!otlp) return void (await flushed);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([flushed, new Promise((resolve) => (timer = setTimeout(resolve, otlpFinalPushMsMax)))]);
    clearTimeout(timer);
  };

  return {
    metricsPort,

    onReplicaEvent(event: ReplicaEvent): void {
      switch (event.type) {
        case 'ingested':
          entriesIngested.add(event.toSeq - event.fromSeq + 1, { source: event.source });
          ingestRate.add(event.toSeq - event.fromSeq + 1);
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

    activeSpanContext(): LogSpanContext | undefined {
      const context = activeContext.getStore();
      const span = context && trace.getSpanContext(context);
      return span && { traceId: span.traceId, spanId: span.spanId };
    },

    ingestRatePerSecond(): number {
      return ingestRate.perSecond();
    },

    memberSync(): ReadonlyMap<string, MemberSync> {
      checkFreshness();
      return new Map([...sync].map(([member, record]) => [member, { ...record }]));
    },

    stop: () => (stopped ??= stop()),
  };
}

/** An http(s) base URL without a trailing slash; `''` → undefined (no OTLP export). */
function parseOtlpEndpoint(value: string): string | undefined {
  if (value === '') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ValidationError('otlpEndpoint', `"${value}" is not a URL (e.g. http://collector:4318)`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    throw new ValidationError('otlpEndpoint', `"${value}" must be an http:// or https:// base URL without query (the node appends /v1/traces and /v1/metrics)`);
  }
  return url.href.replace(/\/+$/, '');
}

/**
 * A count per second over a sliding window of whole seconds: one bucket per
 * second, so memory is fixed (window / 1 s buckets) whatever the rate.
 */
export class RateWindow {
  readonly #buckets: number[];
  readonly #seconds: number[];
  readonly #startedMs: number;

  constructor(
    readonly windowMs: number,
    private readonly nowMs: () => number,
  ) {
    const size = Math.ceil(windowMs / 1000);
    this.#buckets = new Array<number>(size).fill(0);
    this.#seconds = new Array<number>(size).fill(-1);
    this.#startedMs = nowMs();
  }

  add(count: number): void {
    const second = Math.floor(this.nowMs() / 1000);
    const i = second % this.#buckets.length;
    if (this.#seconds[i] !== second) {
      this.#seconds[i] = second;
      this.#buckets[i] = 0;
    }
    this.#buckets[i]! += count;
  }

  /** The count over the window (or since construction, when that is shorter) per second. */
  perSecond(): number {
    const now = this.nowMs();
    const second = Math.floor(now / 1000);
    const oldest = second - this.#buckets.length + 1;
    let total = 0;
    for (let i = 0; i < this.#buckets.length; i++) if (this.#seconds[i]! >= oldest) total += this.#buckets[i]!;
    const spanMs = Math.min(this.windowMs, Math.max(1000, now - this.#startedMs));
    return (total * 1000) / spanMs;
  }
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
 * sending anything. With a collector configured, an OTLP batch processor sits beside it.
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
