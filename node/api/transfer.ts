import type { Caller } from '../access/guard.js';
import { randomBytes } from 'node:crypto';
import type { Provenance as ApiProvenance } from '../../gen/tongxing/api/v1/api.js';
import {
  TransferKind,
  TransferServiceService,
  type AbortImportRequest,
  type AbortImportResponse,
  type CommitImportRequest,
  type CommitImportResponse,
  type ExportRecordsRequest,
  type ExportRecordsResponse,
  type GetImportRequest,
  type GetImportResponse,
  type ImportItem,
  type ImportRecordsRequest,
  type ImportRecordsResponse,
  type ImportReport,
  type RowError,
  type StageImportRequest,
  type StageImportResponse,
} from '../../gen/tongxing/api/v1/transfer.js';
import { SanctionIssue, type Record } from '../../gen/tongxing/records/v1/records.js';
import { assert, LimitError, TongxingError, ValidationError } from '../../federation/errors.js';
import { batchEntriesMax, exportPageRowsMax, importErrorsReportedMax } from '../../federation/limits.js';
import * as queries from '../../federation/queries.js';
import { stateRangeAfter } from '../../federation/scan.js';
import { entityKey, registrationStanding, resolveEntity, type EntityView } from '../../federation/views/entity.js';
import { homedElsewhere } from './entity.js';
import { decodeView, type Provenance } from '../../federation/views/provenance.js';
import { issueRefusal, sanctionFromView, sanctionKey, type SanctionView } from '../../federation/views/sanction.js';
import { StagedImport, StagedImports, type ImportKind } from './transfer-imports.js';
import { KeyedSerial, type ApiContext, type ApiService } from './service.js';

// TransferService: bulk import (all or nothing) and paged export of entities
// and sanctions. Rows are validated as records, then against this node's state
// (an entity whose home node is another member, a sanction id already used for
// a different sanction), and only when no row fails are they all written.
// Staged imports and their bounds: transfer-imports.ts.

const kindNames: Partial<globalThis.Record<TransferKind, ImportKind>> = {
  [TransferKind.TRANSFER_KIND_ENTITIES]: 'entities',
  [TransferKind.TRANSFER_KIND_SANCTIONS]: 'sanctions',
};

function kindOf(kind: TransferKind, field = 'kind'): ImportKind {
  const name = kindNames[kind];
  if (!name) throw new ValidationError(field, kind === TransferKind.TRANSFER_KIND_UNSPECIFIED ? 'missing' : `unknown value ${kind}`);
  return name;
}

/** Writes go through the replica in chunks well under batchEntriesMax, so an import never meets the writer's pending bound alone. */
const writeChunkEntries = batchEntriesMax / 4;

/** What the commit does with each row, decided while holding every row's key. */
const enum Step {
  Unchanged = 0,
  Register = 1,
  Update = 2,
  Issue = 3,
}

/** Runs `task` holding every key of `serial`, taken in sorted order so two multi-key holders cannot deadlock. */
function holdingAll<T>(serial: KeyedSerial, keys: readonly string[], task: () => Promise<T>): Promise<T> {
  const sorted = [...new Set(keys)].sort();
  const hold = (i: number): Promise<T> => (i === sorted.length ? task() : serial.run(sorted[i]!, () => hold(i + 1)));
  return hold(0);
}

export function transferService(c: ApiContext): ApiService {
  const { replica, clock, serial, provenance, describe } = c;
  const imports = new StagedImports({ clock, newId: () => randomBytes(16).toString('hex') });

  /** What the import would write, row by row, or the rows this node's state refuses. Runs holding the rows' keys. */
  async function plan(staged: StagedImport): Promise<{ steps: Uint8Array; errors: RowError[]; errorsTotal: number; created: number; updated: number; unchanged: number }> {
    const steps = new Uint8Array(staged.rows);
    const errors: RowError[] = [];
    let errorsTotal = 0;
    const refuse = (error: RowError) => {
      if (errors.length < importErrorsReportedMax) errors.push(error);
      errorsTotal++;
    };
    let created = 0;
    let updated = 0;
    let unchanged = 0;
    for (const [row, item] of staged.items()) {
      const kind = item.item!;
      if (kind.$case === 'entity') {
        const profile = kind.value;
        const registration = registrationStanding(await queries.getEntity(replica, profile.uscc), replica.nodeId, profile);
        if (registration.standing === 'unregistered') {
          steps[row] = Step.Register;
          created++;
        } else if (registration.standing === 'homed-elsewhere') {
          refuse({ row, field: 'profile.uscc', reason: homedElsewhere(profile.uscc, describe(registration.home.author)) });
        } else if (registration.sameProfile) {
          unchanged++;
        } else {
          steps[row] = Step.Update;
          updated++;
        }
      } else if (kind.$case === 'sanction') {
        const issue = kind.value;
        const refusal = issueRefusal(decodeView<SanctionView>(await replica.store.getState(sanctionKey(replica.nodeId, issue.sanctionId))));
        if (!refusal) {
          steps[row] = Step.Issue;
          created++;
        } else if (Buffer.from(SanctionIssue.encode(refusal.sanction.issue).finish()).equals(SanctionIssue.encode(issue).finish())) {
          unchanged++;
        } else {
          refuse({ row, field: 'sanction.sanctionId', reason: `this node already issued a different sanction with id ${JSON.stringify(issue.sanctionId)} (log seq ${refusal.sanction.issued.seq})` });
        }
      }
    }
    return { steps, errors, errorsTotal, created, updated, unchanged };
  }

  function recordOf(step: Step, item: ImportItem): Record {
    const kind = item.item!;
    if (kind.$case === 'entity') return { kind: step === Step.Register ? { $case: 'entityRegistration', value: { profile: kind.value } } : { $case: 'entityUpdate', value: { profile: kind.value } } };
    assert(kind.$case === 'sanction' && step === Step.Issue, 'a sanction row is only ever issued');
    return { kind: { $case: 'sanctionIssue', value: kind.value } };
  }

  async function writeChunk(chunk: readonly Record[]): Promise<Provenance[]> {
    const written: Provenance[] = [];
    const results = await Promise.allSettled(chunk.map((record) => replica.write(record)));
    for (const [j, result] of results.entries()) {
      if (result.status === 'fulfilled') written.push(result.value);
      // Other writers filled the pending batch meanwhile: it has been sealed now, so once more.
      else if (result.reason instanceof LimitError) written.push(await replica.write(chunk[j]!));
      else throw result.reason;
    }
    return written;
  }

  /** Writes the planned rows in order, counting them in staged.recordsWritten as they become durable; answers the first and last provenance. */
  async function writeAll(staged: StagedImport, steps: Uint8Array): Promise<{ first?: Provenance; last?: Provenance }> {
    let first: Provenance | undefined;
    let last: Provenance | undefined;
    let chunk: Record[] = [];
    const flush = async () => {
      const written = await writeChunk(chunk);
      chunk = [];
      first ??= written[0];
      last = written[written.length - 1] ?? last;
      staged.recordsWritten += written.length;
    };
    for (const [row, item] of staged.items()) {
      if (steps[row] === Step.Unchanged) continue;
      chunk.push(recordOf(steps[row]!, item));
      if (chunk.length === writeChunkEntries) await flush();
    }
    if (chunk.length > 0) await flush();
    return { first, last };
  }

  async function commit(staged: StagedImport, dryRun: boolean): Promise<ImportReport> {
    const empty: ImportReport = { written: false, errors: [], errorsTotal: 0, created: 0, updated: 0, unchanged: 0, first: undefined, last: undefined };
    if (staged.errorsTotal > 0) return { ...empty, errors: staged.errors, errorsTotal: staged.errorsTotal };
    const keys = [...staged.keys()].map((key) => (staged.kind === 'entities' ? entityKey(key) : sanctionKey(replica.nodeId, key)));
    return holdingAll(serial, keys, async () => {
      const planned = await plan(staged);
      const counts = { created: planned.created, updated: planned.updated, unchanged: planned.unchanged };
      if (planned.errorsTotal > 0) return { ...empty, errors: planned.errors, errorsTotal: planned.errorsTotal };
      if (dryRun) return { ...empty, ...counts };
      let written: { first?: Provenance; last?: Provenance };
      try {
        written = await writeAll(staged, planned.steps);
      } catch (error) {
        // Validated above, so only a broken environment gets here; say how far it got.
        if (error instanceof TongxingError) throw new TongxingError(`import stopped after ${staged.recordsWritten} records were written: ${error.message}`);
        throw error;
      }
      const edge = (p: Provenance | undefined): ApiProvenance | undefined => p && provenance(p);
      return { written: true, errors: [], errorsTotal: 0, ...counts, first: edge(written.first), last: edge(written.last) };
    });
  }

  async function importRecords(request: ImportRecordsRequest): Promise<ImportRecordsResponse> {
    const staged = new StagedImport(kindOf(request.kind));
    staged.stage(request.items, 0);
    try {
      return { report: await commit(staged, request.dryRun) };
    } finally {
      staged.release();
    }
  }

  // A staged import is its client's: another client (even one with the same scopes) can neither see nor commit it.
  async function stageImport(request: StageImportRequest, caller: Caller): Promise<StageImportResponse> {
    const kind = request.importId === '' || request.kind !== TransferKind.TRANSFER_KIND_UNSPECIFIED ? kindOf(request.kind) : undefined;
    const id = request.importId === '' ? imports.start(kind!, caller.client).id : request.importId;
    const staged = imports.stage(id, request.items, request.firstRow, kind, caller.client);
    return { importId: id, stagedRows: staged.import.rows, errors: staged.errors, expiresAtMs: BigInt(staged.expiresAtMs) };
  }

  async function commitImport(request: CommitImportRequest, caller: Caller): Promise<CommitImportResponse> {
    if (request.dryRun) {
      const staged = imports.dryRun(request.importId, caller.client);
      if (request.rows !== staged.rows) throw new ValidationError('rows', `${request.rows}, but ${staged.rows} rows are staged`);
      return { report: await commit(staged, true) };
    }
    return { report: await imports.commit(request.importId, request.rows, (staged) => commit(staged, false), caller.client) };
  }

  async function getImport(request: GetImportRequest, caller: Caller): Promise<GetImportResponse> {
    const status = imports.status(request.importId, caller.client);
    return {
      state: status.state,
      stagedRows: status.rows,
      rowsWritten: status.recordsWritten,
      report: status.report,
      detail: status.detail,
      expiresAtMs: BigInt(status.expiresAtMs ?? 0),
    };
  }

  async function abortImport(request: AbortImportRequest, caller: Caller): Promise<AbortImportResponse> {
    return { state: imports.abort(request.importId, caller.client) };
  }

  async function exportRecords(request: ExportRecordsRequest): Promise<ExportRecordsResponse> {
    const kind = kindOf(request.kind);
    const limit = request.limit === 0 ? exportPageRowsMax : Math.min(request.limit, exportPageRowsMax);
    const prefix = kind === 'entities' ? 'view/entity/' : request.ownOnly ? `view/sanction/${replica.nodeId}/` : 'view/sanction/';
    let after: string | undefined;
    if (request.pageToken !== '') {
      after = Buffer.from(request.pageToken, 'base64url').toString('utf8');
      if (!after.startsWith(prefix)) throw new ValidationError('pageToken', 'not a page token of this export (kind and ownOnly must stay the same)');
    }
    const page = await stateRangeAfter(replica.store, prefix, after, limit);
    const response: ExportRecordsResponse = { entities: [], sanctions: [], nextPageToken: '' };
    for (const [, bytes] of page) {
      if (kind === 'entities') {
        const entity = resolveEntity(decodeView<EntityView>(bytes), (author) => replica.isQuarantined(author));
        if (!entity || (request.ownOnly && entity.home.author !== replica.nodeId)) continue;
        response.entities.push({ profile: entity.profile, home: provenance(entity.home) });
      } else {
        const sanction = sanctionFromView(decodeView<SanctionView>(bytes)!);
        if (replica.isQuarantined(sanction.issued.author)) continue;
        response.sanctions.push({
          sanction: sanction.issue,
          issued: provenance(sanction.issued),
          lift: sanction.lift?.lift,
          lifted: sanction.lift && provenance(sanction.lift.lifted),
        });
      }
    }
    if (page.length === limit) response.nextPageToken = Buffer.from(page[page.length - 1]![0]).toString('base64url');
    return response;
  }

  return { definition: TransferServiceService, handlers: { importRecords, stageImport, commitImport, getImport, abortImport, exportRecords } };
}
