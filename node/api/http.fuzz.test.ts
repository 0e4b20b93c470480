import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runFuzz, type FuzzReport } from './http.fuzz.js';

// The HTTP/JSON API against 100,000 seeded hostile requests to every path of
// its OpenAPI document (http.fuzz.ts says what they are and what counts as a
// failure). Each run draws a seed and prints it; TONGXING_FUZZ_SEED=... replays
// that run, TONGXING_FUZZ_REQUESTS=... changes its length. `make fuzz` sends
// 1,000,000 (docs/HTTP.md, "Fuzzing").

const seed = process.env.TONGXING_FUZZ_SEED || String(randomInt(2 ** 31));
const requests = Number(process.env.TONGXING_FUZZ_REQUESTS || 100_000);
const mib = 2 ** 20;

const summary = (r: FuzzReport) =>
  `http fuzz: seed ${r.seed}, ${r.requests} requests (${r.writeRequests} to write methods) in ${r.seconds.toFixed(1)} s; ` +
  `statuses ${JSON.stringify(r.statuses)}; RSS ${Math.round(r.rssBytes.before / mib)} -> peak ${Math.round(r.rssBytes.peak / mib)} -> ${Math.round(r.rssBytes.after / mib)} MiB; ` +
  `heap after GC ${Math.round(r.heapUsedBytes.before / mib)} -> ${Math.round(r.heapUsedBytes.after / mib)} MiB`;

describe('HTTP/JSON API under fuzzing', () => {
  it(`answers ${requests.toLocaleString('en-US')} fuzzed requests to every OpenAPI path with no 5xx, no crash, nothing written and bounded memory`, async () => {
    console.log(`http fuzz: seed ${seed}; replay with TONGXING_FUZZ_SEED=${seed} npx vitest run node/api/http.fuzz.test.ts`);
    const report = await runFuzz({ seed, requests });
    console.log(summary(report));

    expect(report.requests).toBe(requests);
    expect(report.failures, `seed ${seed}: replay with TONGXING_FUZZ_SEED=${seed}, or node dist/bench/fuzz.js --seed ${seed} --only <index>`).toEqual([]);
    expect(report.failuresTotal).toBe(0);
    expect(Object.keys(report.statuses).filter((s) => !/^[1-4]\d\d$/.test(s)), 'statuses other than 1xx-4xx').toEqual([]);
    expect(report.internalErrorsLogged).toBe(0);

    // Every path of the document, by its method, got a share of the requests; and each kind of defect was sent.
    const perTarget = requests / Object.keys(report.targets).length;
    for (const path of report.openApiPaths) {
      const sent = Object.entries(report.targets).filter(([target]) => target.endsWith(` ${path}`));
      expect(sent.length, path).toBeGreaterThan(0);
      for (const [target, count] of sent) expect(count, target).toBeGreaterThan(perTarget / 20);
    }
    for (const kind of ['prototype-key', 'deep', 'wrong-type', 'huge-number', 'bad-base64', 'bad-enum', 'unknown-field', 'given-twice', 'malformed-json', 'bad-utf8', 'not-object', 'oversize', 'get-prototype-key', 'get-huge-number', 'get-bad-percent']) {
      expect(report.kinds[kind] ?? 0, kind).toBeGreaterThan(0);
    }

    // Every request to a write method was refused, and nothing at all was written.
    expect(report.writeRequests).toBeGreaterThan(requests / 4);
    expect(report.written).toEqual({ storeCommits: 0, ownSeqBefore: 2, ownSeqAfter: 2, clientsBefore: 1, clientsAfter: 1 });
    expect(report.healthyAfter).toBe(true);

    // Little is kept (heap after a full GC); RSS, garbage and allocator slack included, stays far from the 1 GB a leak reaches.
    expect(report.heapUsedBytes.after - report.heapUsedBytes.before).toBeLessThan(64 * mib);
    expect(report.rssBytes.peak - report.rssBytes.before).toBeLessThan(768 * mib);
    expect(report.rssBytes.after - report.rssBytes.before).toBeLessThan(512 * mib);
  }, 300_000);

  it('sends the same requests for the same seed', async () => {
    const [first, second] = [await runFuzz({ seed: `${seed}/replay`, requests: 1500 }), await runFuzz({ seed: `${seed}/replay`, requests: 1500 })];
    expect(second.kinds).toEqual(first.kinds);
    expect(second.targets).toEqual(first.targets);
    expect(second.writeRequests).toBe(first.writeRequests);
    expect(second.bodyBytes.sent).toBe(first.bodyBytes.sent);
    const other = await runFuzz({ seed: `${seed}/other`, requests: 1500 });
    expect(other.bodyBytes.sent).not.toBe(first.bodyBytes.sent);
  }, 120_000);
});
