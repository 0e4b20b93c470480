import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { PeriodicExportingMetricReader, type MetricProducer } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ValidationError } from '../../federation/errors.js';
import { otlpExportTimeoutMs, otlpFinalPushMsMax, otlpSpansQueuedMax } from '../limits.js';

// Pushing to an OpenTelemetry collector over OTLP/HTTP, when one is configured:
// spans to <url>/v1/traces (batched, bounded) and metrics to <url>/v1/metrics
// every interval, beside the Prometheus endpoint.

/** An http(s) base URL without a trailing slash; `''` → undefined (no OTLP export). ValidationError naming otlpEndpoint otherwise. */
export function parseOtlpEndpoint(value: string): string | undefined {
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

/** The metric reader and span processor that push to the collector at `url` (from parseOtlpEndpoint). */
export function otlpExport(url: string, exportIntervalMs: number, metricProducers: MetricProducer[]): { reader: PeriodicExportingMetricReader; spanProcessor: BatchSpanProcessor } {
  const timeoutMillis = Math.min(otlpExportTimeoutMs, exportIntervalMs);
  const reader = new PeriodicExportingMetricReader({
    exporter: new OTLPMetricExporter({ url: `${url}/v1/metrics`, timeoutMillis }),
    exportIntervalMillis: exportIntervalMs,
    exportTimeoutMillis: timeoutMillis,
    metricProducers,
  });
  // Batched, bounded: while the collector is down spans beyond the queue are dropped, not kept.
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url: `${url}/v1/traces`, timeoutMillis: otlpExportTimeoutMs }), {
    maxQueueSize: otlpSpansQueuedMax,
    exportTimeoutMillis: otlpExportTimeoutMs,
  });
  return { reader, spanProcessor };
}

/**
 * Waits for the providers' shutdown, which pushes the last metrics and queued
 * spans: a collector that is down or slow costs at most otlpFinalPushMsMax of
 * the stop, and no error.
 */
export async function finalPush(flushed: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([flushed, new Promise((resolve) => (timer = setTimeout(resolve, otlpFinalPushMsMax)))]);
  clearTimeout(timer);
}
