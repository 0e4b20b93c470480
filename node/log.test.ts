import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, errorFields, withTraceContext } from './log.js';
import { startTelemetry, type Telemetry } from './telemetry.js';

// JSON lines as an operator's collector reads them, trace ids included.

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, destination };
}

const running: Telemetry[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()));
});

describe('node log', () => {
  it('writes one JSON object per line with level name, ISO time and message, from the configured level up', () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: 'warn', destination });
    log.info('not written');
    log.warn({ peer: 'abc' }, 'rejected data');
    log.error(errorFields(new TypeError('boom')), 'stop step failed');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 'warn', msg: 'rejected data', peer: 'abc', pid: process.pid });
    expect(Date.parse(lines[0]!.time as string)).not.toBeNaN();
    expect(lines[1]).toMatchObject({ level: 'error', error: 'boom', errorName: 'TypeError' });
  });

  it('refuses an unknown level, naming logLevel', () => {
    expect(() => createLogger({ level: 'loud' as never })).toThrow(expect.objectContaining({ name: 'ValidationError', field: 'logLevel' }));
  });

  it('adds trace_id and span_id of the span a line is written in, and nothing outside one', async () => {
    const telemetry = await startTelemetry({ metricsListen: '', nodeId: 'node-a', city: 'Kunming' });
    running.push(telemetry);
    const { lines, destination } = capture();
    const log = withTraceContext(createLogger({ destination }), () => telemetry.activeSpanContext(), { nodeId: 'node-a' });

    log.info('before');
    await telemetry.span('anti-entropy round', {}, async () => {
      await new Promise((resolve) => setImmediate(resolve)); // across an await, as in a real round
      log.warn('inside');
      await telemetry.span('pull entries', {}, async () => log.warn('nested'));
    });
    log.info('after');

    const [round, pull] = [...telemetry.recentSpans()].reverse();
    expect(lines.map((l) => [l.msg, l.nodeId, l.trace_id, l.span_id])).toEqual([
      ['before', 'node-a', undefined, undefined],
      ['inside', 'node-a', round!.spanContext().traceId, round!.spanContext().spanId],
      ['nested', 'node-a', pull!.spanContext().traceId, pull!.spanContext().spanId],
      ['after', 'node-a', undefined, undefined],
    ]);
    expect(pull!.spanContext().traceId).toBe(round!.spanContext().traceId);
  });
});
