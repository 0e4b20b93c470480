import { describe, expect, it } from 'vitest';
import { ImportState, type GetImportResponse, type ImportItem, type ImportReport } from '../../gen/tongxing/api/v1/transfer.js';
import { importCommitWaitMsMax, importStatusPollMs } from '../limits.js';
import { entityProfile, usccFor } from '../../federation/testing/records.js';
import { ApiError } from '../api/client.js';
import type { DomainClient } from '../api/domain-client.js';
import type { Io } from './command.js';
import { importRows, type CommitWaiting } from './transfer.js';

// `tongxing import` reports what the node did, not what its call saw: when the
// commit call's deadline passes the node goes on committing, so the CLI asks
// GetImport until the import is committed, refused or failed (or says the
// outcome is unknown), and prints counts only for a commit. The node is a
// scripted fake; time is an injected clock that sleeping advances.

const items: ImportItem[] = Array.from({ length: 5 }, (_, i) => ({ item: { $case: 'entity', value: entityProfile(usccFor(i)) } }));
const committed: ImportReport = { written: true, errors: [], errorsTotal: 0, created: 4, updated: 0, unchanged: 1, first: undefined, last: undefined };
const refused: ImportReport = { written: false, errors: [{ row: 2, field: 'profile.uscc', reason: 'its home node is Guiyang' }], errorsTotal: 1, created: 0, updated: 0, unchanged: 0, first: undefined, last: undefined };

const status = (state: ImportState, more: Partial<GetImportResponse> = {}): GetImportResponse => ({ state, stagedRows: 5, rowsWritten: 0, report: undefined, detail: '', expiresAtMs: 0n, ...more });
const deadline = () => new ApiError('127.0.0.1:7401', 'DEADLINE_EXCEEDED', 'Deadline exceeded');

/** A node whose commit call never answers in time, then answers GetImport with `statuses` in turn (the last one repeats). */
function node(statuses: Array<GetImportResponse | ApiError>, commit: () => Promise<ImportReport> = () => Promise.reject(deadline())) {
  const calls: string[] = [];
  const api = {
    address: '127.0.0.1:7401',
    stageImport: async (request: { firstRow: number; items: ImportItem[] }) => {
      calls.push('stage');
      return { importId: 'imp-1', stagedRows: request.firstRow + request.items.length, errors: [], expiresAtMs: 0n };
    },
    commitImport: async () => {
      calls.push('commit');
      return { report: await commit() };
    },
    getImport: async () => {
      calls.push('get');
      const next = statuses.length > 1 ? statuses.shift()! : statuses[0]!;
      if (next instanceof ApiError) throw next;
      return next;
    },
    abortImport: async () => {
      calls.push('abort');
      return { state: ImportState.IMPORT_STATE_ABORTED };
    },
  } as unknown as DomainClient;
  return { api, calls };
}

function run(api: DomainClient, json = false) {
  const out = { stdout: '', stderr: '' };
  const io: Io = { stdout: (t) => (out.stdout += t), stderr: (t) => (out.stderr += t), stdoutBytes: () => undefined };
  const clock = { now: 0 };
  const waiting: CommitWaiting = { nowMs: () => clock.now, sleep: async (ms) => void (clock.now += ms) };
  const args = { values: { json }, positionals: ['entities', 'rows.json'] };
  return { out, clock, done: importRows(api, args, io, 'entities', items, false, waiting) };
}

describe('import, when the commit call times out', () => {
  it('waits for the commit and reports its counts once committed', async () => {
    const { api, calls } = node([status(ImportState.IMPORT_STATE_COMMITTING, { rowsWritten: 2 }), deadline(), status(ImportState.IMPORT_STATE_COMMITTED, { rowsWritten: 4, report: committed })]);
    const { out, clock, done } = run(api);
    expect(await done).toBe(0);
    expect(out.stdout).toBe('5 row(s) checked and written: 4 were registered, 0 were updated, 1 already recorded exactly so\n');
    expect(out.stderr).toMatch(/the commit call ended without an answer .*waiting for its outcome/);
    expect(calls).toEqual(['stage', 'commit', 'get', 'get', 'get']);
    expect(clock.now).toBe(2 * importStatusPollMs);
  });

  it('reports the refused rows, and no counts, when the commit was refused', async () => {
    const { api } = node([status(ImportState.IMPORT_STATE_REFUSED, { report: refused })]);
    const { out, done } = run(api, true);
    expect(await done).toBe(1);
    expect(JSON.parse(out.stdout)).toEqual({ written: false, errors: [{ row: 2, field: 'LEGAL_CODE', reason: 'its home node is Guiyang' }], errorsTotal: 1 });
  });

  it('says how far a failed commit got', async () => {
    const { api } = node([status(ImportState.IMPORT_STATE_FAILED, { rowsWritten: 3, detail: 'import stopped after 3 records were written: disk full' })]);
    await expect(run(api).done).rejects.toThrow(/import imp-1 failed while committing, after 3 records were written: .*disk full/);
  });

  it('gives up after importCommitWaitMsMax saying the outcome is unknown, never that nothing was written', async () => {
    const { api } = node([status(ImportState.IMPORT_STATE_COMMITTING, { rowsWritten: 1 })]);
    const { out, clock, done } = run(api);
    await expect(done).rejects.toThrow(/import imp-1: outcome unknown: still committing after 10\.0 min \(importCommitWaitMsMax\)\. Some rows may be written; importing the same file again is safe/);
    expect(clock.now).toBe(importCommitWaitMsMax);
    expect(out.stdout).toBe('');
  });

  it('commits again when the first commit call never reached the node (the import is still staging)', async () => {
    let commits = 0;
    const { api, calls } = node([status(ImportState.IMPORT_STATE_STAGING)], async () => {
      if (commits++ === 0) throw new ApiError('127.0.0.1:7401', 'UNAVAILABLE', 'connection reset');
      return committed;
    });
    const { done } = run(api);
    expect(await done).toBe(0);
    expect(calls).toEqual(['stage', 'commit', 'get', 'commit']);
  });

  it('aborts the import when staging fails, so the node lets go of it at once', async () => {
    const { api, calls } = node([]);
    let stages = 0;
    (api as { stageImport: unknown }).stageImport = async () => {
      calls.push('stage');
      if (stages++ === 0) return { importId: 'imp-1', stagedRows: 1, errors: [], expiresAtMs: 0n };
      throw new ApiError('127.0.0.1:7401', 'RESOURCE_EXHAUSTED', 'over importBytesTotalMax');
    };
    const big = Array.from({ length: 3000 }, (_, i) => ({ item: { $case: 'entity', value: entityProfile(usccFor(i)) } }) as ImportItem);
    const io: Io = { stdout: () => undefined, stderr: () => undefined, stdoutBytes: () => undefined };
    await expect(importRows(api, { values: {}, positionals: [] }, io, 'entities', big, false)).rejects.toThrow(/RESOURCE_EXHAUSTED/);
    expect(calls).toEqual(['stage', 'stage', 'abort']);
  });
});
