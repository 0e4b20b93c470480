import type { RowError } from '../../gen/tongxing/api/v1/transfer.js';
import type { ExpertPersonalRecord } from '../store/expert-private.js';

// What planning an import decides per row (transfer-commit.ts, transfer-plan-kinds.ts).

/** What the commit does with each row, decided while holding every row's key. */
export enum Step {
  Unchanged = 0,
  Register = 1,
  Update = 2,
  Issue = 3,
  RecordCertificate = 4,
  ImportCrl = 5,
  RegisterExpert = 6,
  UpdateExpert = 7,
}

/** Steps counted as created (the rest but Unchanged count as updated). */
export const creatingSteps: ReadonlySet<Step> = new Set([Step.Register, Step.Issue, Step.RecordCertificate, Step.ImportCrl, Step.RegisterExpert]);

/**
 * A row's step, or why this node's state refuses it. `personal`: an expert's
 * personal fields to keep in the private store, written before any record of
 * the import (a crash in between leaves a private record, never a profile without its person).
 */
export type RowPlan = { readonly step: Step; readonly personal?: ExpertPersonalRecord } | { readonly refusal: Omit<RowError, 'row'> };
