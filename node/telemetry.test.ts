import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import { SpanStatusCode } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { startTelemetry, type Telemetry } from './telemetry.js';
import { metricDefinitions } from './telemetry/metrics.js';
import type { ReplicationLag } from './telemetry/replication.js';
import { lagOf, scrape, value } from './telemetry/testing.js';

// Scrapes the real HTTP endpoint on 127.0.0.1 and reads the Prometheus text.

const running: Telemetry[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()));
});

async function start(metricsListen = '127.0.0.1:0', nodeId = 'node-a', city = 'Guangzhou'): Promise<Telemetry> {
  const telemetry = await startTelemetry({ metricsListen, nodeId, city });
  running.push(telemetry);
  return telemetry;
}

const m = metricDefinitions;
/** Where freshness does not matter to a test: lags judged at one time against a one-minute budget. */
const atMs = Date.UTC(2025, 5, 1);
const budgetMs = 60_000;

describe('telemetry', () => {
  it('serves counters from replica events and gossip at /metrics', async () => {
    const t = await start();
    expect(t.metricsPort).toBeGreaterThan(0);

    const before = await scrape(t.metricsPort!);
    expect(value(before, m.entriesIngested.name, { source: 'pull' })).toBe(0);
    expect(value(before, m.equivocations.name)).toBe(0);
    expect(value(before, m.gossipMessages.name, { direction: 'in', verdict: 'reject' })).toBe(0);

    t.onReplicaEvent({ type: 'ingested', author: 'a', fromSeq: 1, toSeq: 3, source: 'local' });
    t.onReplicaEvent({ type: 'ingested', author: 'b', fromSeq: 4, toSeq: 4, source: 'gossip' });
    t.onReplicaEvent({ type: 'ingested', author: 'b', fromSeq: 5, toSeq: 14, source: 'pull' });
    t.onReplicaEvent({ type: 'rejected', peer: 'b', reason: 'bad signature' });
    t.onReplicaEvent({ type: 'rejected', peer: undefined, reason: 'bad proof' });
    t.onReplicaEvent({ type: 'equivocation', author: 'c', seq: 9 });
    t.onReplicaEvent({ type: 'pull', peer: 'b', author: 'c', ok: true });
    t.onReplicaEvent({ type: 'pull', peer: 'c', author: 'c', ok: false });
    t.onReplicaEvent({ type: 'pull', peer: 'd', author: 'c', ok: false });
    t.gossipMessage('out');
    t.gossipMessage('out');
    for (let i = 0; i < 3; i++) t.gossipMessage('in', 'accept');
    t.gossipMessage('in', 'reject');

    const after = await scrape(t.metricsPort!);
    expect(value(after, m.entriesIngested.name, { source: 'local' })).toBe(3);
    expect(value(after, m.entriesIngested.name, { source: 'gossip' })).toBe(1);
    expect(value(after, m.entriesIngested.name, { source: 'pull' })).toBe(10);
    expect(value(after, m.verificationFailures.name)).toBe(2);
    expect(value(after, m.equivocations.name)).toBe(1);
    expect(value(after, m.pulls.name, { result: 'ok' })).toBe(1);
    expect(value(after, m.pulls.name, { result: 'failed' })).toBe(2);
    expect(value(after, m.gossipMessages.name, { direction: 'out' })).toBe(2);
    expect(value(after, m.gossipMessages.name, { direction: 'in', verdict: 'accept' })).toBe(3);
    expect(value(after, m.gossipMessages.name, { direction: 'in', verdict: 'reject' })).toBe(1);
    expect(value(after, m.gossipMessages.name, { direction: 'in', verdict: 'ignore' })).toBe(0);

    const target = after.find((s) => s.name === 'target_info');
    expect(target?.labels).toMatchObject({ service_name: 'tongxing', service_instance_id: 'node-a', tongxing_city: 'Guangzhou' });
  });

  it('reads replication lag from the callback at each scrape', async () => {
    const t = await start();
    let lags: ReplicationLag[] = [
      lagOf('node-a', 'Guangzhou', 0, 1500, atMs, budgetMs),
      lagOf('node-b', 'Shenzhen', 7, undefined, atMs, budgetMs),
    ];
    let reads = 0;
    t.observeLag(() => {
      reads++;
      return lags;
    });

    const first = await scrape(t.metricsPort!);
    expect(reads).toBe(1);
    expect(value(first, m.replicationLagEntries.name, { member: 'node-a', city: 'Guangzhou' })).toBe(0);
    expect(value(first, m.replicationLagEntries.name, { member: 'node-b', city: 'Shenzhen' })).toBe(7);
    expect(value(first, m.replicationLag.name, { member: 'node-a', city: 'Guangzhou' })).toBe(1500);
    expect(value(first, m.replicationLag.name, { member: 'node-b', city: 'Shenzhen' })).toBeUndefined();

    lags = [
      lagOf('node-a', 'Guangzhou', 2, 40, atMs, budgetMs),
      lagOf('node-b', 'Shenzhen', 0, 9000, atMs, budgetMs),
    ];
    const second = await scrape(t.metricsPort!);
    expect(reads).toBe(2);
    expect(value(second, m.replicationLagEntries.name, { member: 'node-a', city: 'Guangzhou' })).toBe(2);
    expect(value(second, m.replicationLagEntries.name, { member: 'node-b', city: 'Shenzhen' })).toBe(0);
    expect(value(second, m.replicationLag.name, { member: 'node-a', city: 'Guangzhou' })).toBe(40);
    expect(value(second, m.replicationLag.name, { member: 'node-b', city: 'Shenzhen' })).toBe(9000);

    // What the reader no longer reports is not exported (no frozen last value).
    lags = [lagOf('node-a', 'Guangzhou', 1, undefined, atMs, budgetMs)];
    const third = await scrape(t.metricsPort!);
    expect(value(third, m.replicationLagEntries.name, { member: 'node-a', city: 'Guangzhou' })).toBe(1);
    expect(value(third, m.replicationLagEntries.name, { member: 'node-b', city: 'Shenzhen' })).toBeUndefined();
    expect(value(third, m.replicationLag.name, { member: 'node-a', city: 'Guangzhou' })).toBeUndefined();
    expect(value(third, m.replicationLag.name, { member: 'node-b', city: 'Shenzhen' })).toBeUndefined();

    // A reader that throws costs the lag gauges of that scrape, not the scrape.
    t.observeLag(() => {
      throw new Error('replica closed');
    });
    const fourth = await scrape(t.metricsPort!);
    expect(fourth.some((s) => s.name.startsWith('tongxing_replication_lag'))).toBe(false);
    expect(value(fourth, m.equivocations.name)).toBe(0);
  });

  it('serves no endpoint for an empty metricsListen, and still accepts calls', async () => {
    const t = await start('');
    expect(t.metricsPort).toBeUndefined();
    t.onReplicaEvent({ type: 'equivocation', author: 'c', seq: 1 });
    t.gossipMessage('in', 'ignore');
    t.observeLag(() => []);
    await expect(t.span('round', {}, async () => 5)).resolves.toBe(5);
  });

  it('keeps two instances in one process apart', async () => {
    const a = await start('127.0.0.1:0', 'node-a', 'Guangzhou');
    const b = await start('127.0.0.1:0', 'node-b', 'Shenzhen');
    expect(a.metricsPort).not.toBe(b.metricsPort);
    a.onReplicaEvent({ type: 'equivocation', author: 'c', seq: 1 });
    b.onReplicaEvent({ type: 'pull', peer: 'a', author: 'c', ok: true });
    b.onReplicaEvent({ type: 'pull', peer: 'a', author: 'c', ok: true });
    await a.span('round a', {}, async () => {});

    const [fromA, fromB] = await Promise.all([scrape(a.metricsPort!), scrape(b.metricsPort!)]);
    expect(value(fromA, m.equivocations.name)).toBe(1);
    expect(value(fromB, m.equivocations.name)).toBe(0);
    expect(value(fromA, m.pulls.name, { result: 'ok' })).toBe(0);
    expect(value(fromB, m.pulls.name, { result: 'ok' })).toBe(2);
    expect(fromA.find((s) => s.name === 'target_info')?.labels.service_instance_id).toBe('node-a');
    expect(fromB.find((s) => s.name === 'target_info')?.labels.service_instance_id).toBe('node-b');
    expect(a.recentSpans().map((s) => s.name)).toEqual(['round a']);
    expect(b.recentSpans()).toEqual([]);
  });

  it('releases the port on stop: a new instance can bind it', async () => {
    const first = await startTelemetry({ metricsListen: '127.0.0.1:0', nodeId: 'n', city: 'c' });
    const port = first.metricsPort!;
    await scrape(port); // leaves a keep-alive connection open
    await first.stop();
    await first.stop(); // idempotent
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();

    const second = await start(`127.0.0.1:${port}`);
    expect(second.metricsPort).toBe(port);
    expect(value(await scrape(port), m.equivocations.name)).toBe(0);
  });

  it('rejects a port in use, a malformed address and a malformed OTLP endpoint', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(startTelemetry({ metricsListen: `127.0.0.1:${port}`, nodeId: 'n', city: 'c' })).rejects.toMatchObject({
        name: 'ValidationError',
        field: 'metricsListen',
      });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
    for (const bad of ['9464', '127.0.0.1', '127.0.0.1:99999', 'http://127.0.0.1:9464']) {
      await expect(startTelemetry({ metricsListen: bad, nodeId: 'n', city: 'c' }), bad).rejects.toMatchObject({ name: 'ValidationError' });
    }
    for (const bad of ['127.0.0.1:4318', 'ftp://collector', 'http://collector:4318/?x=1']) {
      await expect(startTelemetry({ metricsListen: '', nodeId: 'n', city: 'c', otlpEndpoint: bad }), bad).rejects.toMatchObject({
        name: 'ValidationError',
        field: 'otlpEndpoint',
      });
    }
  });

  it('answers 404 off the metrics path', async () => {
    const t = await start();
    expect((await fetch(`http://127.0.0.1:${t.metricsPort}/`)).status).toBe(404);
  });
});

describe('telemetry spans', () => {
  it('records a thrown error on the span, with ERROR status, and rethrows it unchanged', async () => {
    const t = await start();
    const failure = new Error('peer unreachable');
    await expect(t.span('pull entries', { peer: 'node-b', afterSeq: 4 }, async () => Promise.reject(failure))).rejects.toBe(failure);
    const syncThrow = new TypeError('thrown before any await');
    await expect(
      t.span('sync throw', {}, () => {
        throw syncThrow;
      }),
    ).rejects.toBe(syncThrow);

    const [pull, sync] = t.recentSpans();
    expect(pull!.name).toBe('pull entries');
    expect(pull!.attributes).toMatchObject({ peer: 'node-b', afterSeq: 4 });
    expect(pull!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'peer unreachable' });
    expect(pull!.events.map((e) => [e.name, e.attributes?.['exception.message']])).toEqual([['exception', 'peer unreachable']]);
    expect(pull!.ended).toBe(true);
    expect(sync!.status.code).toBe(SpanStatusCode.ERROR);
    expect(sync!.events[0]!.attributes?.['exception.type']).toBe('TypeError');

    const samples = await scrape(t.metricsPort!);
    expect(value(samples, `${m.operationDuration.name}_count`, { operation: 'pull entries', outcome: 'error' })).toBe(1);
    expect(value(samples, `${m.operationDuration.name}_count`, { operation: 'pull entries', outcome: 'ok' })).toBeUndefined();
  });

  it('returns the result, nests child spans and counts durations by outcome', async () => {
    const t = await start();
    const result = await t.span('anti-entropy round', { members: 3 }, async () => {
      await t.span('exchange heads', { peer: 'node-b' }, async () => {});
      await Promise.all([t.span('pull entries', {}, async () => {}), t.span('pull entries', {}, async () => {})]);
      return 'done';
    });
    expect(result).toBe('done');

    const spans = t.recentSpans();
    const round = spans.find((s) => s.name === 'anti-entropy round')!;
    expect(round.status.code).toBe(SpanStatusCode.UNSET);
    expect(round.parentSpanContext).toBeUndefined();
    const children = spans.filter((s) => s !== round);
    expect(children).toHaveLength(3);
    for (const child of children) {
      expect(child.spanContext().traceId).toBe(round.spanContext().traceId);
      expect(child.parentSpanContext?.spanId).toBe(round.spanContext().spanId);
    }
    // A span started outside the round is a new trace.
    await t.span('later', {}, async () => {});
    expect(t.recentSpans().at(-1)!.parentSpanContext).toBeUndefined();

    const samples = await scrape(t.metricsPort!);
    expect(value(samples, `${m.operationDuration.name}_count`, { operation: 'pull entries', outcome: 'ok' })).toBe(2);
    expect(value(samples, `${m.operationDuration.name}_count`, { operation: 'anti-entropy round', outcome: 'ok' })).toBe(1);
    expect(value(samples, `${m.operationDuration.name}_bucket`, { operation: 'anti-entropy round', outcome: 'ok', le: '+Inf' })).toBe(1);
  });
});

describe('OTLP export', () => {
  /** A collector's OTLP/HTTP receiver on 127.0.0.1 that keeps what is POSTed. */
  async function collector() {
    const received: Array<{ path: string; headers: IncomingHttpHeaders; body: any }> = []; // eslint-disable-line @typescript-eslint/no-explicit-any
    const server = createHttpServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ path: request.url ?? '', headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const close = () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
    return { received, url: `http://127.0.0.1:${port}`, close };
  }

  it('pushes spans and metrics (lag gauges included) to the collector, flushing on stop', async () => {
    const otlp = await collector();
    try {
      const t = await startTelemetry({ metricsListen: '127.0.0.1:0', nodeId: 'node-a', city: 'Kunming', otlpEndpoint: `${otlp.url}/`, otlpExportIntervalMs: 3_600_000 });
      running.push(t);
      t.onReplicaEvent({ type: 'ingested', author: 'a', fromSeq: 1, toSeq: 4, source: 'pull' });
      t.observeLag(() => [lagOf('node-b', 'Guiyang', 3, 1200, atMs, budgetMs)]);
      await t.span('anti-entropy round', { members: 3 }, async () => {});
      // Prometheus stays the default and keeps serving beside OTLP.
      expect(value(await scrape(t.metricsPort!), m.entriesIngested.name, { source: 'pull' })).toBe(4);
      await t.stop();

      const traces = otlp.received.filter((r) => r.path === '/v1/traces');
      const metrics = otlp.received.filter((r) => r.path === '/v1/metrics');
      expect(traces.length).toBeGreaterThanOrEqual(1);
      expect(metrics.length).toBeGreaterThanOrEqual(1);
      expect(traces[0]!.headers['content-type']).toMatch(/json/);
      const spans = traces.flatMap((r) => r.body.resourceSpans).flatMap((rs: any) => rs.scopeSpans).flatMap((ss: any) => ss.spans); // eslint-disable-line @typescript-eslint/no-explicit-any
      expect(spans.map((s: { name: string }) => s.name)).toEqual(['anti-entropy round']);
      const resource = traces[0]!.body.resourceSpans[0].resource.attributes as Array<{ key: string; value: { stringValue?: string } }>;
      expect(resource.find((a) => a.key === 'service.instance.id')?.value.stringValue).toBe('node-a');

      const exported = metrics.flatMap((r) => r.body.resourceMetrics).flatMap((rm: any) => rm.scopeMetrics).flatMap((sm: any) => sm.metrics); // eslint-disable-line @typescript-eslint/no-explicit-any
      const names = new Set(exported.map((metric: { name: string }) => metric.name));
      expect(names).toContain(m.entriesIngested.name);
      expect(names).toContain(m.replicationLagEntries.name);
      expect(names).toContain(m.operationDuration.name);
      const ingested = exported.find((metric: { name: string }) => metric.name === m.entriesIngested.name);
      const pull = ingested.sum.dataPoints.find((p: any) => p.attributes.some((a: any) => a.value.stringValue === 'pull')); // eslint-disable-line @typescript-eslint/no-explicit-any
      expect(Number(pull.asDouble ?? pull.asInt)).toBe(4);
    } finally {
      await otlp.close();
    }
  });

  it('keeps running when the collector is unreachable', async () => {
    const otlp = await collector();
    await otlp.close(); // nothing listens there any more
    const t = await startTelemetry({ metricsListen: '', nodeId: 'n', city: 'c', otlpEndpoint: otlp.url, otlpExportIntervalMs: 3_600_000 });
    await expect(t.span('round', {}, async () => 'ok')).resolves.toBe('ok');
    await t.stop();
  });
});

describe('member sync', () => {
  it('counts each stretch of staleness once and reports since when a member is stale or behind', async () => {
    let now = 5_000_000;
    const t = await startTelemetry({ metricsListen: '127.0.0.1:0', nodeId: 'node-a', city: 'Kunming', nowMs: () => now });
    running.push(t);
    const at = (entries: number, ageMs: number | undefined) => lagOf('node-b', 'Guiyang', entries, ageMs, now, 30_000);
    let lag: ReplicationLag = at(0, 1000);
    t.observeLag(() => [lag]);
    expect(t.memberSync().get('node-b')).toEqual({ breaches: 0, staleSinceMs: undefined, behindSinceMs: undefined });

    now += 10_000;
    lag = at(5, 45_000);
    expect(t.memberSync().get('node-b')).toEqual({ breaches: 1, staleSinceMs: now - 15_000, behindSinceMs: now });
    const stale = now - 15_000;
    now += 5_000;
    lag = at(5, 50_000);
    expect(t.memberSync().get('node-b')).toMatchObject({ breaches: 1, staleSinceMs: stale }); // the same stretch
    lag = at(0, 500);
    expect(t.memberSync().get('node-b')).toEqual({ breaches: 1, staleSinceMs: undefined, behindSinceMs: undefined });
    lag = at(0, 31_000);
    expect(t.memberSync().get('node-b')?.breaches).toBe(2);
    expect(value(await scrape(t.metricsPort!), m.freshnessBreaches.name, { member: 'node-b', city: 'Guiyang' })).toBe(2);

    t.onReplicaEvent({ type: 'ingested', author: 'b', fromSeq: 1, toSeq: 120, source: 'pull' });
    now += 1_000;
    expect(t.ingestRatePerSecond()).toBeGreaterThan(0);
  });

  it('counts a member not heard since start as a breach from the first sample, as checks fail closed on it', async () => {
    let now = 5_000_000;
    const t = await startTelemetry({ metricsListen: '127.0.0.1:0', nodeId: 'node-a', city: 'Kunming', nowMs: () => now });
    running.push(t);
    let lag = lagOf('node-b', 'Guiyang', 0, undefined, now, 30_000);
    t.observeLag(() => [lag]);
    expect(t.memberSync().get('node-b')).toEqual({ breaches: 1, staleSinceMs: now, behindSinceMs: undefined });
    const since = now;
    now += 2_000;
    expect(t.memberSync().get('node-b')).toMatchObject({ breaches: 1, staleSinceMs: since }); // still the same stretch
    lag = lagOf('node-b', 'Guiyang', 0, 1_000, now, 30_000);
    expect(t.memberSync().get('node-b')).toEqual({ breaches: 1, staleSinceMs: undefined, behindSinceMs: undefined });
    expect(value(await scrape(t.metricsPort!), m.freshnessBreaches.name, { member: 'node-b', city: 'Guiyang' })).toBe(1);
  });
});

describe('docs/METRICS.md', () => {
  it('documents every metric', () => {
    const doc = readFileSync(new URL('../docs/METRICS.md', import.meta.url), 'utf8');
    for (const d of Object.values(metricDefinitions)) {
      expect(doc, d.name).toContain(`\`${d.name}\``);
      for (const label of d.labels) expect(doc, `${d.name} label ${label}`).toContain(`\`${label}\``);
    }
  });
});
