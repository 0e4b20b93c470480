import type { Provenance as ApiProvenance } from '../../gen/tongxing/api/v1/api.js';
import type { ImportItem, ImportReport, RowError } from '../../gen/tongxing/api/v1/transfer.js';
import { SanctionIssue, type EntityProfile, type Record } from '../../gen/tongxing/records/v1/records.js';
import { assert, LimitError, TongxingError } from '../../federation/errors.js';
import { batchEntriesMax } from '../../federation/limits.js';
import { importErrorsReportedMax } from '../limits.js';
import * as queries from '../../federation/queries.js';
import { entityKey, registrationStanding } from '../../federation/views/entity.js';
import { decodeView, type Provenance } from '../../federation/views/provenance.js';
import { issueRefusal, sanctionKey, type SanctionView } from '../../federation/views/sanction.js';
import { homedElsewhere } from './entity.js';
import type { StagedImport } from './transfer-imports.js';
import type { ApiContext, KeyedSerial } from './service.js';

// Committing a staged import, all or nothing: holding every row's key, each
// row is checked against this node's state (an entity whose home node is
// another member, a sanction id already used for a different sanction), and
// only when no row fails are they all written, in order.

/** Writes go through the replica in chunks well under batchEntriesMax, so an import never meets the writer's pending bound alone. */
const writeChunkEntries = batchEntriesMax / 4;

/** What the commit does with each row, decided while holding every row's key. */
const enum Step {
  Unchanged = 0,
  Register = 1,
  Update = 2,
  Issue = 3,
}

/** A row's step, or why this node's state refuses it. */
type RowPlan = { readonly step: Step } | { readonly refusal: Omit<RowError, 'row'> };

interface Plan {
  readonly steps: Uint8Array;
  readonly errors: RowError[];
  readonly errorsTotal: number;
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
}

/** Checks the import against this node's state and writes it unless a row fails (or `dryRun`). */
export async function commitStaged(c: ApiContext, staged: StagedImport, dryRun: boolean): Promise<ImportReport> {
  const empty: ImportReport = { written: false, errors: [], errorsTotal: 0, created: 0, updated: 0, unchanged: 0, first: undefined, last: undefined };
  if (staged.errorsTotal > 0) return { ...empty, errors: staged.errors, errorsTotal: staged.errorsTotal };
  const keys = [...staged.keys()].map((key) => (staged.kind === 'entities' ? entityKey(key) : sanctionKey(c.replica.nodeId, key)));
  return holdingAll(c.serial, keys, async () => {
    const planned = await plan(c, staged);
    const counts = { created: planned.created, updated: planned.updated, unchanged: planned.unchanged };
    if (planned.errorsTotal > 0) return { ...empty, errors: planned.errors, errorsTotal: planned.errorsTotal };
    if (dryRun) return { ...empty, ...counts };
    let written: { first?: Provenance; last?: Provenance };
    try {
      written = await writeAll(c, staged, planned.steps);
    } catch (error) {
      // Validated above, so only a broken environment gets here; say how far it got.
      if (error instanceof TongxingError) throw new TongxingError(`import stopped after ${staged.recordsWritten} records were written: ${error.message}`);
      throw error;
    }
    const edge = (p: Provenance | undefined): ApiProvenance | undefined => p && c.provenance(p);
    return { written: true, errors: [], errorsTotal: 0, ...counts, first: edge(written.first), last: edge(written.last) };
  });
}

/** Runs `task` holding every key of `serial`, taken in sorted order so two multi-key holders cannot deadlock. */
function holdingAll<T>(serial: KeyedSerial, keys: readonly string[], task: () => Promise<T>): Promise<T> {
  const sorted = [...new Set(keys)].sort();
  const hold = (i: number): Promise<T> => (i === sorted.length ? task() : serial.run(sorted[i]!, () => hold(i + 1)));
  return hold(0);
}

/** What the import would write, row by row, or the rows this node's state refuses. Runs holding the rows' keys. */
async function plan(c: ApiContext, staged: StagedImport): Promise<Plan> {
  const steps = new Uint8Array(staged.rows);
  const errors: RowError[] = [];
  let errorsTotal = 0;
  let created = 0;
  let updated = 0;
  let unchanged = 0;
  for (const [row, item] of staged.items()) {
    const kind = item.item!;
    const planned = kind.$case === 'entity' ? await planEntity(c, kind.value) : await planSanction(c, kind.value);
    if ('refusal' in planned) {
      if (errors.length < importErrorsReportedMax) errors.push({ row, ...planned.refusal });
      errorsTotal++;
      continue;
    }
    steps[row] = planned.step;
    if (planned.step === Step.Register || planned.step === Step.Issue) created++;
    else if (planned.step === Step.Update) updated++;
    else unchanged++;
  }
  return { steps, errors, errorsTotal, created, updated, unchanged };
}

/** Only the home node registers or updates an entity; the profile it holds already changes nothing. */
async function planEntity(c: ApiContext, profile: EntityProfile): Promise<RowPlan> {
  const registration = registrationStanding(await queries.getEntity(c.replica, profile.uscc), c.replica.nodeId, profile);
  if (registration.standing === 'unregistered') return { step: Step.Register };
  if (registration.standing === 'homed-elsewhere') return { refusal: { field: 'profile.uscc', reason: homedElsewhere(profile.uscc, c.describe(registration.home.author)) } };
  return registration.sameProfile ? { step: Step.Unchanged } : { step: Step.Update };
}

/** A sanction id is issued once: the same sanction again changes nothing, a different one is refused. */
async function planSanction(c: ApiContext, issue: SanctionIssue): Promise<RowPlan> {
  const refusal = issueRefusal(decodeView<SanctionView>(await c.replica.store.getState(sanctionKey(c.replica.nodeId, issue.sanctionId))));
  if (!refusal) return { step: Step.Issue };
  if (Buffer.from(SanctionIssue.encode(refusal.sanction.issue).finish()).equals(SanctionIssue.encode(issue).finish())) return { step: Step.Unchanged };
  return {
    refusal: { field: 'sanction.sanctionId', reason: `this node already issued a different sanction with id ${JSON.stringify(issue.sanctionId)} (log seq ${refusal.sanction.issued.seq})` },
  };
}

function recordOf(step: Step, item: ImportItem): Record {
  const kind = item.item!;
  if (kind.$case === 'entity') return { kind: step === Step.Register ? { $case: 'entityRegistration', value: { profile: kind.value } } : { $case: 'entityUpdate', value: { profile: kind.value } } };
  assert(kind.$case === 'sanction' && step === Step.Issue, 'a sanction row is only ever issued');
  return { kind: { $case: 'sanctionIssue', value: kind.value } };
}

async function writeChunk(c: ApiContext, chunk: readonly Record[]): Promise<Provenance[]> {
  const written: Provenance[] = [];
  const results = await Promise.allSettled(chunk.map((record) => c.replica.write(record)));
  for (const [j, result] of results.entries()) {
    if (result.status === 'fulfilled') written.push(result.value);
    // Other writers filled the pending batch meanwhile: it has been sealed now, so once more.
    else if (result.reason instanceof LimitError) written.push(await c.replica.write(chunk[j]!));
    else throw result.reason;
  }
  return written;
}

/** Writes the planned rows in order, counting them in staged.recordsWritten as they become durable; answers the first and last provenance. */
async function writeAll(c: ApiContext, staged: StagedImport, steps: Uint8Array): Promise<{ first?: Provenance; last?: Provenance }> {
  let first: Provenance | undefined;
  let last: Provenance | undefined;
  let chunk: Record[] = [];
  const flush = async () => {
    const written = await writeChunk(c, chunk);
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
