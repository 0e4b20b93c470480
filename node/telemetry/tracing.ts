import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { ROOT_CONTEXT, SpanStatusCode, trace, type Context, type Tracer } from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { LogSpanContext } from '../log.js';

// Spans of one node. Parenting uses a per-instance AsyncLocalStorage instead
// of the global context manager: a span opened by node A's sync round never
// becomes the parent of node B's spans when both run in one process.

export type SpanAttributes = Record<string, string | number | boolean>;

export class Tracing {
  readonly #tracer: Tracer;
  readonly #active = new AsyncLocalStorage<Context>();
  readonly #finished: (name: string, outcome: 'ok' | 'error', durationMs: number) => void;

  /** `finished` is told every span's name, outcome and duration as it ends (the operation-duration histogram). */
  constructor(tracer: Tracer, finished: (name: string, outcome: 'ok' | 'error', durationMs: number) => void) {
    this.#tracer = tracer;
    this.#finished = finished;
  }

  /** See Telemetry.span. */
  async span<T>(name: string, attributes: SpanAttributes, fn: () => Promise<T>): Promise<T> {
    const parent = this.#active.getStore() ?? ROOT_CONTEXT;
    const span = this.#tracer.startSpan(name, { attributes }, parent);
    const startedMs = performance.now();
    let outcome: 'ok' | 'error' = 'ok';
    try {
      return await this.#active.run(trace.setSpan(parent, span), fn);
    } catch (error) {
      outcome = 'error';
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
      this.#finished(name, outcome, performance.now() - startedMs);
    }
  }

  /** The span the calling code runs in (inside `span`'s fn); undefined outside any. */
  activeSpanContext(): LogSpanContext | undefined {
    const context = this.#active.getStore();
    const span = context && trace.getSpanContext(context);
    return span && { traceId: span.traceId, spanId: span.spanId };
  }
}

/**
 * A span processor that keeps the last `capacity` finished spans: the default
 * "exporter", so spans exist (and tests can read them) without printing or
 * sending anything. With a collector configured, an OTLP batch processor sits beside it.
 */
export class RecentSpans implements SpanProcessor {
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

  /** Oldest first. */
  list(): ReadableSpan[] {
    if (this.#ring.length < this.#capacity) return [...this.#ring];
    return [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
  }

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {}
}
