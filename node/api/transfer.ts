import { randomBytes } from 'node:crypto';
import type { Provenance as ApiProvenance } from '../../gen/tongxing/api/v1/api.js';
import {
  TransferKind,
  TransferServiceService,
  type CommitImportRequest,
  type CommitImportResponse,
  type ExportRecordsRequest,
  type ExportRecordsResponse,
  type ImportItem,
  type ImportRecordsRequest,
  type ImportRecordsResponse,
  type ImportReport,
  type RowError,
  type StageImportRequest,
  type StageImportResponse,
} from '../../gen/tongxing/api/v1/transfer.js';
import { EntityProfile, SanctionIssue, type Record } from '../../gen/tongxing/records/v1/records.js';
import { LimitError, TongxingError, ValidationError } from '../../federation/errors.js';
import { batchEntriesMax, exportPageRowsMax, importRowsMax, importSessionsMax, importSessionTtlMs } from '../../federation/limits.js';
import * as queries from '../../federation/queries.js';
import { validateEntityProfile, validateSanctionIssue } from '../../federation/records/validate.js';
import { stateRangeAfter } from '../../federation/scan.js';
import { entityKey, resolveEntity, type EntityView } from '../../federation/views/entity.js';
import { decodeView, type Provenance } from '../../federation/views/provenance.js';
import { sanctionFromView, sanctionKey, type SanctionView } from '../../federation/views/sanction.js';
import { KeyedSerial, NotFoundError, type ApiContext, type ApiService } from './service.js';

// TransferService: bulk import (all or nothing) and paged export of entities
// and sanctions. Rows are validated as records, then against this node's state
// (an entity whose home node is another member, a sanction id already used for
// a different sanction), and only when no row fails are they all written.

type Kind = 'entities' | 'sanctions';

const kindNames: Partial<globalThis.Record<TransferKind, Kind>> = {
  [TransferKind.TRANSFER_KIND_ENTITIES]: 'entities',
  [TransferKind.TRANSFER_KIND_SANCTIONS]: 'sanctions',
};

function kindOf(kind: TransferKind, field = 'kind'): Kind {
  const name = kindNames[kind];
  if (!name) throw new ValidationError(field, kind === TransferKind.TRANSFER_KIND_UNSPECIFIED ? 'missing' : `unknown value ${kind}`);
  return name;
}

/** Writes go through the replica in chunks well under batchEntriesMax, so an import never meets the writer's pending bound alone. */
const writeChunkEntries = batchEntriesMax / 4;

interface ImportSession {
  readonly kind: Kind;
  readonly items: ImportItem[];
  readonly errors: RowError[];
  /** Row index by key (USCC or sanction id), to report duplicates within the import. */
  readonly seen: Map<string, number>;
  expiresAtMs: number;
}

/** Stateless checks of one row: the record's own rules, and its key used once in the import. */
function checkItem(session: ImportSession, item: ImportItem, row: number): RowError[] {
  const kind = item.item;
  const wanted = session.kind === 'entities' ? 'entity' : 'sanction';
  if (kind?.$case !== wanted) return [{ row, field: wanted === 'entity' ? 'profile' : 'sanction', reason: `missing: an ${session.kind} import holds ${wanted} rows` }];
  let key: string;
  try {
    if (kind.$case === 'entity') {
      validateEntityProfile(kind.value, 'profile');
      key = kind.value.uscc;
    } else {
      validateSanctionIssue(kind.value, 'sanction');
      key = kind.value.sanctionId;
    }
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return [{ row, field: error.field, reason: error.reason }];
  }
  const first = session.seen.get(key);
  if (first !== undefined) {
    return [{ row, field: kind.$case === 'entity' ? 'profile.uscc' : 'sanction.sanctionId', reason: `${key} is also row ${first}: each appears once in an import` }];
  }
  session.seen.set(key, row);
  return [];
}

/** Runs `task` holding every key of `serial`, taken in sorted order so two multi-key holders cannot deadlock. */
function holdingAll<T>(serial: KeyedSerial, keys: readonly string[], task: () => Promise<T>): Promise<T> {
  const sorted = [...new Set(keys)].sort();
  const hold = (i: number): Promise<T> => (i === sorted.length ? task() : serial.run(sorted[i]!, () => hold(i + 1)));
  return hold(0);
}

export function transferService(c: ApiContext): ApiService {
  const { replica, clock, serial, provenance, describe } = c;
  const sessions = new Map<string, ImportSession>();

  function forgetExpired(nowMs: number): void {
    for (const [id, session] of sessions) if (session.expiresAtMs < nowMs) sessions.delete(id);
  }

  function newSession(kind: Kind): ImportSession {
    return { kind, items: [], errors: [], seen: new Map(), expiresAtMs: clock.nowMs() + importSessionTtlMs };
  }

  function stage(session: ImportSession, items: readonly ImportItem[], firstRow: number): RowError[] {
    if (session.items.length + items.length > importRowsMax) {
      throw new LimitError(`import of ${session.items.length + items.length} rows is over importRowsMax ${importRowsMax}: split the file`);
    }
    const errors = items.flatMap((item, i) => checkItem(session, item, firstRow + i));
    session.items.push(...items);
    session.errors.push(...errors);
    return errors;
  }

  /** What the import would write, or the rows this node's state refuses. Runs holding the rows' keys. */
  async function plan(session: ImportSession): Promise<{ records: Record[]; errors: RowError[]; created: number; updated: number; unchanged: number }> {
    const records: Record[] = [];
    const errors: RowError[] = [];
    let created = 0;
    let updated = 0;
    let unchanged = 0;
    for (const [row, item] of session.items.entries()) {
      const kind = item.item!;
      if (kind.$case === 'entity') {
        const profile = kind.value;
        const existing = await queries.getEntity(replica, profile.uscc);
        if (!existing) {
          records.push({ kind: { $case: 'entityRegistration', value: { profile } } });
          created++;
        } else if (existing.home.author !== replica.nodeId) {
          errors.push({ row, field: 'profile.uscc', reason: `${profile.uscc} is already registered; its home node is ${describe(existing.home.author)}, and only the home node registers or updates it` });
        } else if (Buffer.from(EntityProfile.encode(existing.profile).finish()).equals(EntityProfile.encode(profile).finish())) {
          unchanged++;
        } else {
          records.push({ kind: { $case: 'entityUpdate', value: { profile } } });
          updated++;
        }
      } else if (kind.$case === 'sanction') {
        const issue = kind.value;
        const view = decodeView<SanctionView>(await replica.store.getState(sanctionKey(replica.nodeId, issue.sanctionId)));
        if (!view) {
          records.push({ kind: { $case: 'sanctionIssue', value: issue } });
          created++;
        } else if (Buffer.from(SanctionIssue.encode(sanctionFromView(view).issue).finish()).equals(SanctionIssue.encode(issue).finish())) {
          unchanged++;
        } else {
          errors.push({ row, field: 'sanction.sanctionId', reason: `this node already issued a different sanction with id ${JSON.stringify(issue.sanctionId)} (log seq ${view.issued.seq})` });
        }
      }
    }
    return { records, errors, created, updated, unchanged };
  }

  async function writeAll(records: readonly Record[]): Promise<Provenance[]> {
    const written: Provenance[] = [];
    for (let i = 0; i < records.length; i += writeChunkEntries) {
      const chunk = records.slice(i, i + writeChunkEntries);
      const results = await Promise.allSettled(chunk.map((record) => replica.write(record)));
      for (const [j, result] of results.entries()) {
        if (result.status === 'fulfilled') written.push(result.value);
        // Other writers filled the pending batch meanwhile: it has been sealed now, so once more.
        else if (result.reason instanceof LimitError) written.push(await replica.write(chunk[j]!));
        else throw result.reason;
      }
    }
    return written;
  }

  async function commit(session: ImportSession, dryRun: boolean): Promise<ImportReport> {
    const empty: ImportReport = { written: false, errors: [], created: 0, updated: 0, unchanged: 0, first: undefined, last: undefined };
    if (session.errors.length > 0) return { ...empty, errors: session.errors };
    const keys = session.items.map(({ item }) => (item!.$case === 'entity' ? entityKey(item!.value.uscc) : sanctionKey(replica.nodeId, item!.value.sanctionId)));
    return holdingAll(serial, keys, async () => {
      const planned = await plan(session);
      const counts = { created: planned.created, updated: planned.updated, unchanged: planned.unchanged };
      if (planned.errors.length > 0) return { ...empty, errors: planned.errors };
      if (dryRun) return { ...empty, ...counts };
      let written: Provenance[];
      try {
        written = await writeAll(planned.records);
      } catch (error) {
        // Validated above, so only a broken environment gets here; say how far it got.
        if (error instanceof TongxingError) throw new TongxingError(`import stopped after some rows were written: ${error.message}`);
        throw error;
      }
      const edge = (p: Provenance | undefined): ApiProvenance | undefined => p && provenance(p);
      return { written: true, errors: [], ...counts, first: edge(written[0]), last: edge(written[written.length - 1]) };
    });
  }

  async function importRecords(request: ImportRecordsRequest): Promise<ImportRecordsResponse> {
    const session = newSession(kindOf(request.kind));
    stage(session, request.items, 0);
    return { report: await commit(session, request.dryRun) };
  }

  async function stageImport(request: StageImportRequest): Promise<StageImportResponse> {
    const nowMs = clock.nowMs();
    forgetExpired(nowMs);
    let id = request.importId;
    let session: ImportSession;
    if (id === '') {
      if (sessions.size >= importSessionsMax) throw new LimitError(`${sessions.size} imports are being staged (importSessionsMax ${importSessionsMax}): commit or wait for one to expire`);
      session = newSession(kindOf(request.kind));
      id = randomBytes(16).toString('hex');
      sessions.set(id, session);
    } else {
      const found = sessions.get(id);
      if (!found) throw new NotFoundError(`importId: no staged import ${id} (expired after ${importSessionTtlMs} ms, or already committed)`);
      if (request.kind !== TransferKind.TRANSFER_KIND_UNSPECIFIED && kindOf(request.kind) !== found.kind) throw new ValidationError('kind', `import ${id} holds ${found.kind}`);
      session = found;
    }
    if (request.firstRow !== session.items.length) {
      throw new ValidationError('firstRow', `${request.firstRow}, but ${session.items.length} rows are staged: send the rows in order, each once`);
    }
    const errors = stage(session, request.items, request.firstRow);
    session.expiresAtMs = nowMs + importSessionTtlMs;
    return { importId: id, stagedRows: session.items.length, errors, expiresAtMs: BigInt(session.expiresAtMs) };
  }

  async function commitImport(request: CommitImportRequest): Promise<CommitImportResponse> {
    forgetExpired(clock.nowMs());
    const session = sessions.get(request.importId);
    if (!session) throw new NotFoundError(`importId: no staged import ${JSON.stringify(request.importId)} (expired after ${importSessionTtlMs} ms, or already committed)`);
    if (request.rows !== session.items.length) throw new ValidationError('rows', `${request.rows}, but ${session.items.length} rows are staged`);
    if (!request.dryRun) sessions.delete(request.importId);
    return { report: await commit(session, request.dryRun) };
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

  return { definition: TransferServiceService, handlers: { importRecords, stageImport, commitImport, exportRecords } };
}
