// Metrics and traces of one node, served to Prometheus over HTTP and, when a
// collector is configured, pushed to it over OTLP/HTTP. This module puts the
// parts together (node/telemetry/): the metric definitions and event counters,
// the replication gauges and freshness breaches, spans, the Prometheus
// endpoint and the OTLP export. docs/METRICS.md is the reference.
//
// Each Telemetry owns its providers; nothing is registered with the global
// OpenTelemetry API. Tests run several nodes in one process, and a global
// MeterProvider would send every node's counts to whichever registered first.

import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
// @opentelemetry/resources is a direct dependency of sdk-metrics and
// sdk-trace-base (same 2.12.0 pin); it is the only way to build a Resource.
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, type PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ValidationError } from '../federation/errors.js';
import type { ReplicaEvent } from '../federation/replica.js';
import { freshnessCheckIntervalMs, ingestRateWindowMs, spansKeptMax } from './limits.js';
import type { LogSpanContext } from './log.js';
import { EventMetrics, scopeName } from './telemetry/metrics.js';
import { finalPush, otlpExport, parseOtlpEndpoint } from './telemetry/otlp.js';
import { parseListen, serveMetrics, type MetricsEndpoint } from './telemetry/prometheus.js';
import { RateWindow } from './telemetry/rate-window.js';
import { MemberSyncSampler, ReplicationMetrics, type MemberSync, type ReplicationLag } from './telemetry/replication.js';
import { RecentSpans, Tracing, type SpanAttributes } from './telemetry/tracing.js';

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
  /** Wall clock for the ingest rate and breach times; default Date.now. */
  readonly nowMs?: () => number;
}

export interface Telemetry {
  /** The bound port of the Prometheus endpoint; undefined when it is disabled. */
  readonly metricsPort: number | undefined;
  /** Counts ingested entries, verification failures, equivocations and pulls. */
  onReplicaEvent(event: ReplicaEvent): void;
  /** One gossip message: sent (`out`, no verdict) or received with the validator's verdict. */
  gossipMessage(direction: 'in' | 'out', verdict?: 'accept' | 'reject' | 'ignore'): void;
  /**
   * Replication lag and freshness per member (telemetry/replication.ts's
   * replicationLag): `read` is called once per scrape and its answer exported
   * as gauges and breach counts. A later call replaces the earlier reader.
   * `read` must be quick and must not throw (a throw drops the lag gauges from that scrape).
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
   * Per member (node id): freshness breaches since start and since when it
   * is stale or behind, from sampling the lag reader every
   * `freshnessCheckIntervalMs`, at each scrape and at this call. Empty until a reader is set.
   */
  memberSync(): ReadonlyMap<string, MemberSync>;
  /** Closes the HTTP endpoint (the port is free when this resolves) and shuts the providers down. Idempotent. */
  stop(): Promise<void>;
}

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

  // Every reader gets the replication metrics as a producer: they are not SDK instruments.
  const sampler = new MemberSyncSampler(nowMs);
  const replication = new ReplicationMetrics(resource, sampler);
  const exporter = listen ? new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, metricProducers: [replication] }) : undefined;
  const readers: Array<PrometheusExporter | PeriodicExportingMetricReader> = exporter ? [exporter] : [];
  const spans = new RecentSpans(spansKeptMax);
  const spanProcessors: SpanProcessor[] = [spans];
  if (otlp) {
    const push = otlpExport(otlp, otlpExportIntervalMs, [replication]);
    readers.push(push.reader);
    spanProcessors.push(push.spanProcessor);
  }
  const meterProvider = new MeterProvider({ resource, readers });
  const tracerProvider = new BasicTracerProvider({ resource, spanProcessors });

  let endpoint: MetricsEndpoint | undefined;
  if (listen && exporter) {
    try {
      endpoint = await serveMetrics(listen, exporter, init.metricsListen);
    } catch (error) {
      await Promise.allSettled([meterProvider.shutdown(), tracerProvider.shutdown()]);
      throw error;
    }
  }

  const events = new EventMetrics(meterProvider.getMeter(scopeName));
  const tracing = new Tracing(tracerProvider.getTracer(scopeName), (name, outcome, durationMs) => events.operation(name, outcome, durationMs));
  const ingestRate = new RateWindow(ingestRateWindowMs, nowMs);

  // Sampled between scrapes too, so a breach shorter than the scrape interval still counts.
  let freshnessTimer: NodeJS.Timeout | undefined;
  let stopped: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    clearInterval(freshnessTimer);
    await endpoint?.close();
    // Shutdown flushes: the OTLP readers push their last metrics and queued spans.
    const flushed = Promise.allSettled([meterProvider.shutdown(), tracerProvider.shutdown()]);
    await (otlp ? finalPush(flushed) : flushed);
  };

  return {
    metricsPort: endpoint?.port,

    onReplicaEvent(event: ReplicaEvent): void {
      events.replicaEvent(event);
      if (event.type === 'ingested') ingestRate.add(event.toSeq - event.fromSeq + 1);
    },

    gossipMessage(direction, verdict): void {
      events.gossipMessage(direction, verdict);
    },

    observeLag(read): void {
      sampler.read = read;
      if (freshnessTimer === undefined && stopped === undefined) {
        freshnessTimer = setInterval(() => sampler.trySample(), freshnessCheckIntervalMs);
        freshnessTimer.unref();
      }
    },

    span: (name, attributes, fn) => tracing.span(name, attributes, fn),

    recentSpans(): ReadableSpan[] {
      return spans.list();
    },

    activeSpanContext: () => tracing.activeSpanContext(),

    ingestRatePerSecond(): number {
      return ingestRate.perSecond();
    },

    memberSync(): ReadonlyMap<string, MemberSync> {
      sampler.trySample();
      return sampler.memberSync();
    },

    stop: () => (stopped ??= stop()),
  };
}
