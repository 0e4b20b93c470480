import { describe, expect, it } from 'vitest';
import { ImportState, StageImportRequest, type ImportItem, type ImportReport } from '../../gen/tongxing/api/v1/transfer.js';
import { LimitError } from '../../federation/errors.js';
import { importErrorsReportedMax, importIdleTimeoutMs, importLifetimeMsMax, importSessionsMax } from '../limits.js';
import { entityProfile, usccFor } from '../../federation/testing/records.js';
import { statusOf } from '../error-table.js';
import { StagedImport, StagedImports, stagedBytesOf, type StagedImportsInit } from './transfer-imports.js';

// Staged imports are bounded in bytes (per import and together), keep no
// invalid rows and at most importErrorsReportedMax errors, let go of their
// rows when committed, aborted or dropped, and are dropped when idle or too
// old however often they are staged to. Time is an injected clock.

const entity = (n: number): ImportItem => ({ item: { $case: 'entity', value: entityProfile(usccFor(n)) } });
const invalid = (n: number): ImportItem => ({ item: { $case: 'entity', value: { ...entityProfile(usccFor(n)), regionCode: '53' } } });
const rows = (from: number, count: number, make = entity) => Array.from({ length: count }, (_, i) => make(from + i));
const bytesOf = (items: ImportItem[]) => stagedBytesOf(items);

function table(bounds: StagedImportsInit['bounds'] = {}) {
  const clock = { now: 0, nowMs: () => clock.now };
  let next = 0;
  return { clock, imports: new StagedImports({ clock, newId: () => `import-${++next}`, bounds }) };
}

const written: ImportReport = { written: true, errors: [], errorsTotal: 0, created: 1, updated: 0, unchanged: 0, first: undefined, last: undefined };

describe('a staged import', () => {
  it('holds its valid rows as encoded bytes, and is refused past importBytesMax keeping nothing of the chunk', () => {
    const chunk = rows(0, 100);
    const staged = new StagedImport('entities', { rowsMax: 10_000, bytesMax: 2 * bytesOf(chunk) + 10, errorsReportedMax: 10 });
    staged.stage(chunk, 0);
    expect(staged.bytes).toBe(bytesOf(chunk));
    staged.stage(rows(100, 100), 100);
    const refused = (() => {
      try {
        staged.stage(rows(200, 100), 200);
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(LimitError);
    expect(statusOf(refused)).toMatchObject({ code: 8 /* RESOURCE_EXHAUSTED */, details: expect.stringMatching(/over importBytesMax .*: split the file/) });
    expect(staged.rows).toBe(200);
    expect([...staged.items()].map(([row]) => row)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('keeps no rows once one is invalid, and at most errorsReportedMax errors with their total', () => {
    const staged = new StagedImport('entities', { rowsMax: 10_000, bytesMax: 1 << 30, errorsReportedMax: 5 });
    staged.stage(rows(0, 500), 0);
    const errors = staged.stage([...rows(500, 10, invalid), ...rows(510, 490)], 500);
    expect(errors).toHaveLength(10);
    expect(staged.errors.map((e) => e.row)).toEqual([500, 501, 502, 503, 504]);
    expect(staged.errorsTotal).toBe(10);
    // The rows' encodings are gone; only their keys (for duplicates) and five errors remain.
    expect(() => [...staged.items()]).toThrow(/a failed import keeps no rows/);
    const encoded = StageImportRequest.encode({ importId: '', kind: 0, firstRow: 0, items: rows(0, 1000) }).finish().length;
    expect(staged.bytes).toBeLessThan(bytesOf(rows(0, 1000)) - encoded + 5 * 300);
    const more = staged.stage([...rows(2000, 3, invalid), entity(0)], 1000);
    expect(more.map((e) => e.reason)).toContainEqual(expect.stringMatching(/is also row 0/));
    expect(staged.errorsTotal).toBe(14);
    expect(staged.errors).toHaveLength(5);
  });

  it('with the default bounds keeps importErrorsReportedMax errors of a file of bad rows', () => {
    const staged = new StagedImport('entities');
    staged.stage(rows(0, importErrorsReportedMax + 500, invalid), 0);
    expect(staged.errors).toHaveLength(importErrorsReportedMax);
    expect(staged.errorsTotal).toBe(importErrorsReportedMax + 500);
  });
});

describe('the staged imports of a node', () => {
  it('refuse a chunk that would take them past importBytesTotalMax together, naming the bound; room comes back when one commits', async () => {
    const chunk = rows(0, 50);
    const { imports } = table({ bytesTotalMax: 3 * bytesOf(chunk) });
    const a = imports.start('entities').id;
    const b = imports.start('entities').id;
    imports.stage(a, chunk, 0);
    imports.stage(b, rows(100, 50), 0);
    imports.stage(a, rows(200, 50), 50);
    expect(() => imports.stage(b, rows(300, 50), 50)).toThrow(/importBytesTotalMax .*retry once another import is committed, aborted or dropped/);
    expect(imports.status(b).rows).toBe(50);

    await imports.commit(a, 100, async () => written);
    expect(imports.bytes).toBe(bytesOf(rows(100, 50)));
    imports.stage(b, rows(300, 50), 50);
  });

  it('let go of every row after commit and abort', async () => {
    const { imports } = table();
    const a = imports.start('entities').id;
    const b = imports.start('entities').id;
    imports.stage(a, rows(0, 1000), 0);
    imports.stage(b, rows(1000, 1000), 0);
    expect(imports.bytes).toBeGreaterThan(2 * 1000 * 100);
    await imports.commit(a, 1000, async () => written);
    expect(imports.abort(b)).toBe(ImportState.IMPORT_STATE_ABORTED);
    expect(imports.bytes).toBe(0);
    expect(imports.size).toBe(0);
    expect(imports.status(a)).toMatchObject({ state: ImportState.IMPORT_STATE_COMMITTED, rows: 1000, report: written });
    expect(imports.status(b)).toMatchObject({ state: ImportState.IMPORT_STATE_ABORTED });
    // Aborting again says so; staging to an aborted import says why it cannot.
    expect(imports.abort(b)).toBe(ImportState.IMPORT_STATE_ABORTED);
    expect(() => imports.stage(b, rows(0, 1), 1000)).toThrow(/cannot be staged to: aborted/);
  });

  it('are at most importSessionsMax; one more is RESOURCE_EXHAUSTED naming the bound', () => {
    const { imports } = table();
    for (let i = 0; i < importSessionsMax; i++) imports.start('entities', `operator-${i}`);
    let refusal: unknown;
    try {
      imports.start('entities', 'late');
    } catch (error) {
      refusal = error;
    }
    expect(statusOf(refusal)).toEqual({ code: 8, details: expect.stringMatching(new RegExp(`^${importSessionsMax} imports are staged or committing on this node \\(importSessionsMax ${importSessionsMax}\\)`)) });
  });

  it('drop an import idle for importIdleTimeoutMs, so empty imports do not block others for long', () => {
    const { clock, imports } = table();
    const ids = Array.from({ length: importSessionsMax }, (_, i) => imports.start('entities', `operator-${i}`).id);
    clock.now = importIdleTimeoutMs - 1;
    expect(() => imports.start('entities', 'late')).toThrow(LimitError);
    clock.now = importIdleTimeoutMs;
    expect(imports.start('entities', 'late').id).toMatch(/^import-/);
    expect(imports.status(ids[0]!, 'operator-0')).toMatchObject({ state: ImportState.IMPORT_STATE_EXPIRED, detail: expect.stringMatching(/importIdleTimeoutMs 300000/) });
    expect(() => imports.stage(ids[0]!, [], 0, undefined, 'operator-0')).toThrow(/cannot be staged to: dropped after/);
  });

  it('drop an import importLifetimeMsMax after it started, however often it is staged to', () => {
    const { clock, imports } = table();
    const id = imports.start('entities').id;
    let row = 0;
    // Restaged every minute, an empty chunk or a row at a time.
    while (clock.now + 60_000 < importLifetimeMsMax) {
      clock.now += 60_000;
      const { expiresAtMs } = imports.stage(id, row % 2 === 0 ? [] : [entity(row)], imports.status(id).rows);
      expect(expiresAtMs).toBeLessThanOrEqual(importLifetimeMsMax);
      row++;
    }
    clock.now = importLifetimeMsMax;
    expect(imports.status(id)).toMatchObject({ state: ImportState.IMPORT_STATE_EXPIRED, detail: expect.stringMatching(/importLifetimeMsMax 3600000/) });
    expect(imports.bytes).toBe(0);
  });

  it('commit once: a second commit while committing or after answers the same report, and the rows are let go when it ends', async () => {
    const { imports } = table();
    const id = imports.start('entities').id;
    imports.stage(id, rows(0, 10), 0);
    let runs = 0;
    let finish!: (report: ImportReport) => void;
    const first = imports.commit(id, 10, (staged) => {
      runs++;
      staged.recordsWritten = 4;
      return new Promise((resolve) => (finish = resolve));
    });
    const second = imports.commit(id, 10, async () => {
      runs++;
      return written;
    });
    expect(imports.status(id)).toMatchObject({ state: ImportState.IMPORT_STATE_COMMITTING, recordsWritten: 4 });
    expect(() => imports.abort(id)).toThrow(/is being committed/);
    expect(() => imports.dryRun(id)).toThrow(/is being committed/);
    finish(written);
    expect(await first).toBe(written);
    expect(await second).toBe(written);
    expect(await imports.commit(id, 10, async () => ({ ...written, created: 99 }))).toBe(written);
    expect(runs).toBe(1);
    expect(imports.bytes).toBe(0);
  });

  it('keep a failed commit as FAILED with its reason, and answer a repeated commit with the same error', async () => {
    const { imports } = table();
    const id = imports.start('entities').id;
    imports.stage(id, rows(0, 3), 0);
    const broken = new Error('disk full');
    await expect(imports.commit(id, 3, async () => Promise.reject(broken))).rejects.toBe(broken);
    expect(imports.status(id)).toMatchObject({ state: ImportState.IMPORT_STATE_FAILED, detail: 'disk full' });
    await expect(imports.commit(id, 3, async () => written)).rejects.toBe(broken);
  });

  it('keep at most importOutcomesKeptMax outcomes, each for importOutcomeKeptMs', async () => {
    const { clock, imports } = table({ outcomesKeptMax: 2, outcomeKeptMs: 1000 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = imports.start('entities').id;
      ids.push(id);
      await imports.commit(id, 0, async () => written);
    }
    expect(() => imports.status(ids[0]!)).toThrow(/no import "import-1" here/);
    expect(imports.status(ids[2]!).state).toBe(ImportState.IMPORT_STATE_COMMITTED);
    clock.now = 1000;
    expect(() => imports.status(ids[2]!)).toThrow(/finished more than importOutcomeKeptMs 1000 ms ago/);
  });
});
