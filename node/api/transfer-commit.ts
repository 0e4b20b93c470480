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
import { certificateKey } from '../../federation/views/certificate.js';
import { expertKey } from '../../federation/views/expert.js';
import type { ExpertPersonalRecord } from '../store/expert-private.js';
import { rootsNow } from './certificate-standing.js';
import { homedElsewhere } from './entity.js';
import { expertsRuntime } from './experts-runtime.js';
import type { StagedImport } from './transfer-imports.js';
import { planCertificate, planCrl, planExpert, type TrustNow } from './transfer-plan-kinds.js';
import { creatingSteps, Step, type RowPlan } from './transfer-plan.js';
import { crlKeyPrefix } from './transfer-rows.js';
import type { ApiContext, KeyedSerial } from './service.js';

// Committing a staged import, all or nothing: holding every row's key, each
// row is checked against this node's state (an entity whose home node is
// another member, a sanction id already used for a different sanction, a
// certificate recorded for another holder; certificate chains verified now),
// and only when no row fails are they all written, in order: experts'
// personal fields first (private, never replicated), then the records.

/** Writes go through the replica in chunks well under batchEntriesMax, so an import never meets the writer's pending bound alone. */
const writeChunkEntries = batchEntriesMax / 4;

interface Plan {
  readonly steps: Uint8Array;
  readonly errors: RowError[];
  readonly errorsTotal: number;
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
  /** Experts' personal fields to keep before anything is written. */
  readonly personal: ExpertPersonalRecord[];
}

/** Checks the import against this node's state and writes it unless a row fails (or `dryRun`). */
export async function commitStaged(c: ApiContext, staged: StagedImport, dryRun: boolean): Promise<ImportReport> {
  const empty: ImportReport = { written: false, errors: [], errorsTotal: 0, created: 0, updated: 0, unchanged: 0, first: undefined, last: undefined };
  if (staged.errorsTotal > 0) return { ...empty, errors: staged.errors, errorsTotal: staged.errorsTotal };
  const keys = [...staged.keys()].flatMap((key) => lockKeyOf(c, staged, key));
  return holdingAll(c.serial, keys, async () => {
    const planned = await plan(c, staged);
    const counts = { created: planned.created, updated: planned.updated, unchanged: planned.unchanged };
    if (planned.errorsTotal > 0) return { ...empty, errors: planned.errors, errorsTotal: planned.errorsTotal };
    if (dryRun) return { ...empty, ...counts };
    let written: { first?: Provenance; last?: Provenance };
    try {
      if (planned.personal.length > 0) await expertsRuntime(c).privateStore.putPersonals(planned.personal);
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

/** The serial key a row's writer holds (the view key it changes); none for a CRL (revocations are written blind). */
function lockKeyOf(c: ApiContext, staged: StagedImport, key: string): string[] {
  switch (staged.kind) {
    case 'entities':
      return [entityKey(key)];
    case 'sanctions':
      return [sanctionKey(c.replica.nodeId, key)];
    case 'certificates': {
      if (key.startsWith(crlKeyPrefix)) return [];
      const slash = key.indexOf('/');
      return [certificateKey(key.slice(0, slash), key.slice(slash + 1))];
    }
    case 'experts':
      return [expertKey(key)];
  }
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
  const personal: ExpertPersonalRecord[] = [];
  // One time and one set of roots for every certificate of the import.
  const trust: TrustNow | undefined = staged.kind === 'certificates' ? { nowMs: c.clock.nowMs(), roots: rootsNow(c) } : undefined;
  for (const [row, item] of staged.items()) {
    const planned = await planRow(c, staged, row, item, trust);
    if ('refusal' in planned) {
      if (errors.length < importErrorsReportedMax) errors.push({ row, ...planned.refusal });
      errorsTotal++;
      continue;
    }
    steps[row] = planned.step;
    if (planned.personal) personal.push(planned.personal);
    if (creatingSteps.has(planned.step)) created++;
    else if (planned.step === Step.Unchanged) unchanged++;
    else updated++;
  }
  return { steps, errors, errorsTotal, created, updated, unchanged, personal };
}

async function planRow(c: ApiContext, staged: StagedImport, row: number, item: ImportItem, trust: TrustNow | undefined): Promise<RowPlan> {
  const kind = item.item!;
  switch (kind.$case) {
    case 'entity':
      return planEntity(c, kind.value);
    case 'sanction':
      return planSanction(c, kind.value);
    case 'expert':
      return planExpert(c, kind.value);
    case 'certificate':
    case 'crl': {
      const planned = kind.$case === 'certificate' ? await planCertificate(c, kind.value, staged.isVerified(row), trust!) : await planCrl(c, kind.value, staged.isVerified(row), trust!);
      if ('step' in planned && planned.step !== Step.Unchanged) staged.markVerified(row);
      return planned;
    }
  }
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
  switch (kind.$case) {
    case 'entity':
      return { kind: step === Step.Register ? { $case: 'entityRegistration', value: { profile: kind.value } } : { $case: 'entityUpdate', value: { profile: kind.value } } };
    case 'sanction':
      assert(step === Step.Issue, 'a sanction row is only ever issued');
      return { kind: { $case: 'sanctionIssue', value: kind.value } };
    case 'certificate':
      assert(step === Step.RecordCertificate, 'a certificate row is only ever recorded');
      return { kind: { $case: 'certificateRecord', value: kind.value } };
    case 'crl':
      assert(step === Step.ImportCrl, 'a CRL row is only ever imported');
      return { kind: { $case: 'certificateRevocationList', value: kind.value } };
    case 'expert':
      // Registration and update are the same record from the home node: the profile with its ref.
      assert(step === Step.RegisterExpert || step === Step.UpdateExpert, 'an expert row is registered or updated');
      return { kind: { $case: 'expertProfile', value: kind.value.profile! } };
  }
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
