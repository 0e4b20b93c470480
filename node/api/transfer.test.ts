import { afterEach, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ImportState, TransferKind, type CommitImportResponse, type GetImportResponse, type ImportItem, type StageImportResponse } from '../../gen/tongxing/api/v1/transfer.js';
import { generateKeyPair, nodeIdOf } from '../../federation/crypto/sm2.js';
import { importErrorsReportedMax, importIdleTimeoutMs, importLifetimeMsMax, importSessionsMax, importSessionsPerClientMax } from '../limits.js';
import { Membership } from '../../federation/membership.js';
import { Replica } from '../../federation/replica.js';
import { MemoryStore } from '../../federation/store/memory.js';
import { Bus } from '../../federation/testing/bus.js';
import { entityProfile, usccFor } from '../../federation/testing/records.js';
import { statusOf } from '../error-table.js';
import { apiContext, type ApiService } from './service.js';
import { transferService } from './transfer.js';
import { Prng } from '../../federation/testing/prng.js';

// TransferService's staged imports through its handlers, on one city's
// Replica on a MemoryStore, with an injected clock: bounded error reports, idle
// and lifetime expiry, a full table refused by name, and a commit that goes on
// after its caller gave up, answered by GetImport and by the same CommitImport.

const allianceId = Buffer.alloc(32, 0x6b);

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function city() {
  const keys = generateKeyPair();
  const nodeId = nodeIdOf(keys.publicKey);
  const clock = { now: 1_750_000_000_000, nowMs: () => clock.now };
  const bus = new Bus();
  const replica = await Replica.open(
    { allianceId, keyPair: keys, members: new Membership([{ nodeId, publicKey: keys.publicKey, city: 'Kunming', regionCode: '530100', endpoints: [] }]) },
    { store: new MemoryStore(), transport: bus.transport(nodeId), clock, random: new Prng('test').random() },
  );
  bus.replicas.set(nodeId, replica);
  cleanups.push(() => replica.close());
  const service: ApiService = transferService(apiContext({ replica, clock, freshnessBudgetMs: 3_600_000, city: 'Kunming', allianceId, startedAtMs: clock.now }));
  const h = service.handlers;
  /** The calls of one client, as the access guard names it to the handlers. */
  const as = (client: string) => {
    const caller = { client, operator: '', scopes: new Set<never>() };
    return {
      stage: (importId: string, firstRow: number, items: ImportItem[]): Promise<StageImportResponse> => h.stageImport!({ importId, kind: TransferKind.TRANSFER_KIND_ENTITIES, firstRow, items }, caller),
      commit: (importId: string, rows: number, dryRun = false): Promise<CommitImportResponse> => h.commitImport!({ importId, rows, dryRun }, caller),
      get: (importId: string): Promise<GetImportResponse> => h.getImport!({ importId }, caller),
      abort: (importId: string) => h.abortImport!({ importId }, caller),
    };
  };
  const api = { ...as('operator'), as };
  const stored = () => replica.logs().find((l) => l.nodeId === nodeId)!.storedSeq;
  return { clock, api, stored };
}

const entity = (n: number): ImportItem => ({ item: { $case: 'entity', value: entityProfile(usccFor(n)) } });
const invalid = (n: number): ImportItem => ({ item: { $case: 'entity', value: { ...entityProfile(usccFor(n)), regionCode: '53' } } });
const rows = (from: number, count: number, make = entity) => Array.from({ length: count }, (_, i) => make(from + i));

async function refusal(call: Promise<unknown>): Promise<{ code: status; details: string }> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeDefined();
  return statusOf(error);
}

describe('staged imports at a node', () => {
  it('report at most importErrorsReportedMax row errors, with the total', async () => {
    const { api, stored } = await city();
    const { importId } = await api.stage('', 0, rows(0, 800, invalid));
    await api.stage(importId, 800, rows(800, 700, invalid));
    const { report } = await api.commit(importId, 1500);
    expect(report).toMatchObject({ written: false, errorsTotal: 1500 });
    expect(report!.errors).toHaveLength(importErrorsReportedMax);
    expect(report!.errors[0]).toEqual({ row: 0, field: 'profile.regionCode', reason: 'must be 6 digits (GB/T 2260)' });
    expect(stored()).toBe(0);
  });

  it('are refused past importSessionsMax with RESOURCE_EXHAUSTED naming it, and an idle one is dropped after importIdleTimeoutMs', async () => {
    const { clock, api } = await city();
    // Several operators fill the table (each may hold importSessionsPerClientMax).
    const clients = Array.from({ length: importSessionsMax }, (_, i) => api.as(`operator-${i % (importSessionsMax / importSessionsPerClientMax)}`));
    const ids: string[] = [];
    for (const client of clients) ids.push((await client.stage('', 0, [])).importId);
    const full = await refusal(api.as('late').stage('', 0, []));
    expect(full).toMatchObject({ code: status.RESOURCE_EXHAUSTED, details: expect.stringMatching(/\(importSessionsMax 16\): commit or abort one/) });
    // Aborting one makes room at once.
    expect((await clients[0]!.abort(ids[0]!)).state).toBe(ImportState.IMPORT_STATE_ABORTED);
    ids[0] = (await clients[0]!.stage('', 0, [])).importId;
    clock.now += importIdleTimeoutMs;
    const fresh = await api.stage('', 0, [entity(1)]);
    expect(fresh.stagedRows).toBe(1);
    expect(await clients[1]!.get(ids[1]!)).toMatchObject({ state: ImportState.IMPORT_STATE_EXPIRED, detail: expect.stringMatching(/importIdleTimeoutMs/) });
    expect(await refusal(clients[1]!.stage(ids[1]!, 0, []))).toMatchObject({ code: status.NOT_FOUND, details: expect.stringMatching(/cannot be staged to: dropped after/) });
  });

  it("belong to the client that staged them: another sees none of it, and one client holds at most importSessionsPerClientMax", async () => {
    const { api, stored } = await city();
    const platform = api.as('bulk-loader');
    const { importId } = await platform.stage('', 0, rows(1, 10));
    const other = api.as('other-platform');
    for (const attempt of [other.get(importId), other.commit(importId, 10), other.abort(importId), other.stage(importId, 10, rows(11, 1))]) {
      expect(await refusal(attempt)).toMatchObject({ code: status.NOT_FOUND, details: expect.stringMatching(/no import/) });
    }
    expect(stored()).toBe(0);
    for (let i = 1; i < importSessionsPerClientMax; i++) await platform.stage('', 0, []);
    expect(await refusal(platform.stage('', 0, []))).toMatchObject({ code: status.RESOURCE_EXHAUSTED, details: expect.stringMatching(/importSessionsPerClientMax 4/) });
    expect((await other.stage('', 0, [])).importId).not.toBe('');
    expect((await platform.commit(importId, 10)).report?.created).toBe(10);
  });

  it('cannot be kept alive past importLifetimeMsMax by restaging', async () => {
    const { clock, api } = await city();
    const { importId, expiresAtMs } = await api.stage('', 0, []);
    expect(Number(expiresAtMs)).toBe(clock.now + importIdleTimeoutMs);
    const startMs = clock.now;
    while (clock.now + 60_000 < startMs + importLifetimeMsMax) {
      clock.now += 60_000;
      await api.stage(importId, 0, []);
    }
    clock.now = startMs + importLifetimeMsMax;
    expect(await api.get(importId)).toMatchObject({ state: ImportState.IMPORT_STATE_EXPIRED, detail: expect.stringMatching(/importLifetimeMsMax/) });
  });

  it('go on committing when the caller gives up: GetImport tells the progress and the outcome, and CommitImport again answers the same without writing twice', async () => {
    const { api, stored } = await city();
    const { importId } = await api.stage('', 0, rows(0, 1200));
    // The caller's deadline passes: nobody waits for this call any more.
    const abandoned = api.commit(importId, 1200);
    const during = await api.get(importId);
    expect(during).toMatchObject({ state: ImportState.IMPORT_STATE_COMMITTING, stagedRows: 1200 });
    expect(during.report).toBeUndefined();
    expect(await refusal(api.abort(importId))).toMatchObject({ code: status.FAILED_PRECONDITION });
    const again = await api.commit(importId, 1200);
    expect(again.report).toMatchObject({ written: true, created: 1200 });
    expect((await abandoned).report).toEqual(again.report);
    const after = await api.get(importId);
    expect(after).toMatchObject({ state: ImportState.IMPORT_STATE_COMMITTED, stagedRows: 1200, rowsWritten: 1200, report: again.report });
    expect(stored()).toBe(1200);
    expect((await api.commit(importId, 1200)).report).toEqual(again.report);
    expect(stored()).toBe(1200);
  });

  it('report a refused commit as REFUSED, and a dry run leaves the import staged', async () => {
    const { api, stored } = await city();
    const { importId } = await api.stage('', 0, rows(0, 3));
    expect((await api.commit(importId, 3, true)).report).toMatchObject({ written: false, created: 3, errorsTotal: 0 });
    expect((await api.get(importId)).state).toBe(ImportState.IMPORT_STATE_STAGING);
    await api.commit(importId, 3);
    const repeat = await api.stage('', 0, [entity(0), entity(0)]);
    expect(repeat.errors).toHaveLength(1);
    await api.commit(repeat.importId, 2);
    expect(await api.get(repeat.importId)).toMatchObject({ state: ImportState.IMPORT_STATE_REFUSED, report: { written: false, errorsTotal: 1 } });
    expect(stored()).toBe(3);
  });
});
