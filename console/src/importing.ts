import { EntityProfile, SanctionIssue } from '../../gen/tongxing/records/v1/records.js';
import { dataSpecField, entityFromRow, rowsOf, sanctionFromRow, type RowError } from '../../federation/records/dataspec.js';
import { call } from './api.js';

// Imports from the console, in the files `tongxing import` reads (docs/IMPORTS.md):
// each row is mapped and checked by the same code as the CLI's
// (federation/records/dataspec.ts, bundled into this page's chunk only), then
// staged in chunks and committed all or nothing by the node, which checks the
// rows against its state. Every error comes back against its row (numbered
// from 0, as the CLI numbers them) with the data-specification field name.

export type ConsoleImportKind = 'entities' | 'sanctions';

const transferKinds: Readonly<Record<ConsoleImportKind, string>> = { entities: 'TRANSFER_KIND_ENTITIES', sanctions: 'TRANSFER_KIND_SANCTIONS' };

/** Rows staged per StageImport call: well inside apiRequestBytesMax for rows of a few hundred bytes. */
export const consoleImportChunkRows = 500;

export interface ImportRow {
  readonly row: number;
  readonly values: Readonly<Record<string, unknown>>;
  readonly errors: RowError[];
}

export interface ImportOutcome {
  readonly rows: ImportRow[];
  readonly written: boolean;
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly errorsTotal: number;
}

interface Report { written: boolean; errors: Array<{ row: number; field: string; reason: string }>; created: number; updated: number; unchanged: number; errorsTotal: number }

/** Reads `text` (a data-spec JSON file), checks every row, then stages and commits it; `progress(done, total)` as rows are staged. */
export async function importFile(kind: ConsoleImportKind, text: string, dryRun: boolean, progress: (done: number, total: number) => void): Promise<ImportOutcome> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`file: not JSON (${(error as Error).message})`);
  }
  const raw = rowsOf(json);
  const items: unknown[] = [];
  const rows: ImportRow[] = raw.map((values, row) => {
    const result = kind === 'entities' ? entityFromRow(values, row) : sanctionFromRow(values, row);
    if ('ok' in result) items.push(kind === 'entities' ? { entity: EntityProfile.toJSON(result.ok as EntityProfile) } : { sanction: SanctionIssue.toJSON(result.ok as SanctionIssue) });
    return { row, values: (typeof values === 'object' && values !== null ? values : {}) as Record<string, unknown>, errors: 'errors' in result ? [...result.errors] : [] };
  });
  const localErrors = rows.reduce((n, r) => n + r.errors.length, 0);
  if (localErrors > 0) return { rows, written: false, created: 0, updated: 0, unchanged: 0, errorsTotal: localErrors };

  let importId = '';
  for (let first = 0; first < items.length || importId === ''; first += consoleImportChunkRows) {
    const chunk = items.slice(first, first + consoleImportChunkRows);
    try {
      const staged = await call<{ importId: string; errors: Report['errors'] }>('TransferService', 'StageImport', { importId, kind: transferKinds[kind], firstRow: first, items: chunk });
      importId = staged.importId;
    } catch (error) {
      if (importId !== '') await call('TransferService', 'AbortImport', { importId }).catch(() => undefined);
      throw error;
    }
    progress(Math.min(items.length, first + chunk.length), items.length);
    if (items.length === 0) break;
  }
  const { report } = await call<{ report: Report }>('TransferService', 'CommitImport', { importId, rows: items.length, dryRun });
  for (const e of report.errors) rows[e.row]?.errors.push({ row: e.row, field: dataSpecField(kind, e.field), reason: e.reason });
  return { rows, written: report.written, created: report.created, updated: report.updated, unchanged: report.unchanged, errorsTotal: report.errorsTotal };
}
