import type { Provenance as ApiProvenance } from '../../gen/tongxing/api/v1/api.js';
import type { ImportItem, ImportReport, RowError } from '../../gen/tongxing/api/v1/transfer.js';
import { SanctionIssue, type EntityProfile, type Record } from '../../gen/tongxing/records/v1/records.js';
import { assert } from '../../federation/errors.js';
import { importErrorsReportedMax, importReadKeysMax } from '../limits.js';
import { entityKey, registrationStanding, resolveEntity, type EntityView } from '../../federation/views/entity.js';
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
import type { ApiContext } from './service.js';

// Committing a staged import, all or nothing: holding every row's key, each
// row is checked against this node's state (an entity whose home node is
// another member, a sanction id already used for a different sanction, a
// certificate recorded for another holder; certificate chains verified now),
// and only when no row fails are they all written, in order: experts'
// personal fields first (private, never replicated), then the records, as one
// atomic write that no member sees before this node holds all of it.

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
  return c.serial.runAll(keys, async () => {
    const planned = await plan(c, staged, await readStates(c, staged.kind === 'entities' || staged.kind === 'sanctions' ? keys : []));
    const counts = { created: planned.created, updated: planned.updated, unchanged: planned.unchanged };
    if (planned.errorsTotal > 0) return { ...empty, errors: planned.errors, errorsTotal: planned.errorsTotal };
    if (dryRun) return { ...empty, ...counts };
    if (planned.personal.length > 0) await expertsRuntime(c).privateStore.putPersonals(planned.personal);
    const written = await writeAll(c, staged, planned.steps);
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

/** The rows' views as this node holds them now, read in pages (one store round trip per page, not per row). */
async function readStates(c: ApiContext, keys: readonly string[]): Promise<ReadonlyMap<string, Uint8Array | undefined>> {
  const states = new Map<string, Uint8Array | undefined>();
  for (let from = 0; from < keys.length; from += importReadKeysMax) {
    const page = keys.slice(from, from + importReadKeysMax);
    const values = await c.replica.store.getStates(page);
    page.forEach((key, i) => states.set(key, values[i]));
  }
  return states;
}

/** What the import would write, row by row, or the rows this node's state refuses. Runs holding the rows' keys; entity and sanction rows over their views read up front. */
async function plan(c: ApiContext, staged: StagedImport, states: ReadonlyMap<string, Uint8Array | undefined>): Promise<Plan> {
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
    const planned = await planRow(c, staged, row, item, trust, states);
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

async function planRow(c: ApiContext, staged: StagedImport, row: number, item: ImportItem, trust: TrustNow | undefined, states: ReadonlyMap<string, Uint8Array | undefined>): Promise<RowPlan> {
  const kind = item.item!;
  switch (kind.$case) {
    case 'entity':
      return planEntity(c, kind.value, states.get(entityKey(kind.value.uscc)));
    case 'sanction':
      return planSanction(kind.value, states.get(sanctionKey(c.replica.nodeId, kind.value.sanctionId)));
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
function planEntity(c: ApiContext, profile: EntityProfile, view: Uint8Array | undefined): RowPlan {
  const entity = resolveEntity(decodeView<EntityView>(view), (author) => c.replica.isQuarantined(author));
  const registration = registrationStanding(entity, c.replica.nodeId, profile);
  if (registration.standing === 'unregistered') return { step: Step.Register };
  if (registration.standing === 'homed-elsewhere') return { refusal: { field: 'profile.uscc', reason: homedElsewhere(profile.uscc, c.describe(registration.home.author)) } };
  return registration.sameProfile ? { step: Step.Unchanged } : { step: Step.Update };
}

/** A sanction id is issued once: the same sanction again changes nothing, a different one is refused. */
function planSanction(issue: SanctionIssue, view: Uint8Array | undefined): RowPlan {
  const refusal = issueRefusal(decodeView<SanctionView>(view));
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

/** Writes the planned rows in order as one atomic write (Replica.writeAll: all or none, even if the process dies); answers the first and last provenance. */
async function writeAll(c: ApiContext, staged: StagedImport, steps: Uint8Array): Promise<{ first?: Provenance; last?: Provenance }> {
  const records: Record[] = [];
  for (const [row, item] of staged.items()) if (steps[row] !== Step.Unchanged) records.push(recordOf(steps[row]!, item));
  if (records.length === 0) return {};
  const written = await c.replica.writeAll(records);
  staged.recordsWritten = written.length;
  return { first: written[0], last: written[written.length - 1] };
}
