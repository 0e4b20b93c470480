import { ImportItem, TransferKind, type ImportReport, type RowError } from '../../gen/tongxing/api/v1/transfer.js';
import { apiRequestBytesMax, importRowsMax } from '../../federation/limits.js';
import {
  dataSpecField,
  entityFromRow,
  entityToRow,
  rowsOf,
  sanctionFromRow,
  sanctionToRow,
  type DataSpecRow,
  type RowError as SpecRowError,
  type TransferKindName,
} from '../../federation/records/dataspec.js';
import type { DomainClient } from '../api/domain-client.js';
import { callDomain } from './cert.js';
import { exitNegative, exitOk, optional, printJson, UsageError, type Command, type Io, type Parsed } from './command.js';
import { readInput, writeOutput } from './crypto.js';
import { hex, nodeOptions, nodeUsageLines } from './node-client.js';
import { progress } from './progress.js';

// `tongxing import|export entities|sanctions`: JSON files in the field
// vocabulary of the national platform data specification (LEGAL_*, BLACKLIST_CODE,
// BODY_*, ...; federation/records/dataspec.ts). An import is all or nothing:
// every row is checked here, then by the node against its state, and only when
// none fails is anything written; otherwise each failing row is reported.

const kinds: Record<TransferKindName, TransferKind> = {
  entities: TransferKind.TRANSFER_KIND_ENTITIES,
  sanctions: TransferKind.TRANSFER_KIND_SANCTIONS,
};

/** Room left in a request for its envelope (ids, field tags). */
const stageEnvelopeBytes = 4 * 1024;

const addressLines = [
  '  --api HOST:PORT   the node\'s client API address (same as --node)',
  ...nodeUsageLines,
];

function kindOf(args: Parsed): TransferKindName {
  const kind = args.positionals[0]!;
  if (kind !== 'entities' && kind !== 'sanctions') throw new UsageError(`the first argument is entities or sanctions, got ${JSON.stringify(kind)}`);
  return kind;
}

function readRows(file: string): unknown[] {
  const text = readInput(file, 'FILE').toString('utf8').replace(/^\uFEFF/, '');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file} is not JSON: ${(error as Error).message}`);
  }
  try {
    return rowsOf(json);
  } catch (error) {
    throw new UsageError(`${file}: ${(error as Error).message}`);
  }
}

function printErrors(io: Io, args: Parsed, errors: readonly SpecRowError[], counts?: Partial<ImportReport>): void {
  if (args.values.json) {
    printJson(io, { written: false, errors, ...counts });
    return;
  }
  const lines = [`not imported: ${errors.length} problem(s); nothing was written. Rows are numbered from 0, as in the file's array.`];
  for (const e of errors.slice(0, 200)) lines.push(`  row ${e.row}, ${e.field}: ${e.reason}`);
  if (errors.length > 200) lines.push(`  ... and ${errors.length - 200} more (use --json for all)`);
  io.stdout(lines.join('\n') + '\n');
}

/** The node's row errors, with record fields named in the data-spec vocabulary. */
const specErrors = (kind: TransferKindName, errors: readonly RowError[]): SpecRowError[] => errors.map((e) => ({ row: e.row, field: dataSpecField(kind, e.field), reason: e.reason }));

async function stageAndCommit(api: DomainClient, kind: TransferKindName, items: ImportItem[], dryRun: boolean, io: Io): Promise<ImportReport> {
  const bar = progress(`import ${kind}`, { total: items.length, unit: 'rows', stream: { write: (text) => io.stderr(text), isTTY: process.stderr.isTTY } });
  let importId = '';
  let first = 0;
  while (first < items.length || importId === '') {
    // As many rows as fit in one request.
    let bytes = stageEnvelopeBytes;
    let end = first;
    while (end < items.length) {
      const size = ImportItem.encode(items[end]!).finish().length + 8;
      if (end > first && bytes + size > apiRequestBytesMax) break;
      bytes += size;
      end++;
    }
    const staged = await api.stageImport({ importId, kind: kinds[kind], firstRow: first, items: items.slice(first, end) });
    importId = staged.importId;
    first = end;
    bar.update(first);
    if (items.length === 0) break;
  }
  const { report } = await api.commitImport({ importId, rows: items.length, dryRun });
  bar.finish(report!.errors.length > 0 ? 'refused' : dryRun ? 'checked (dry run)' : 'committed');
  return report!;
}

const importCommand: Command = {
  path: ['import'],
  summary: 'Import entities or sanctions from a data-specification JSON file (all rows or none)',
  usage: [
    '(entities | sanctions) FILE [--dry-run] [--api HOST:PORT] [--json]',
    '',
    '  entities    rows of 法人基本信息: LEGAL_CODE, LEGAL_NAME, LEGAL_ROLE, LEGAL_REPRESENT, LEGAL_TYPE,',
    '              REGION_CODE, REG_CAPITAL, LEGAL_STATUS; registered at this node (updated when it is',
    '              already their home node)',
    '  sanctions   rows of 黑名单 / 违法违规: BLACKLIST_CODE, BODY_NAME, BODY_TYPE (entity or expert), BODY_CODE,',
    '              RECORD_REASON or VIOLATING_TYPE, RECORD_DATE, GOVERNMENT, DOCUMENT_CODE, CONFINED_ACTION,',
    '              CONFINED_START, CONFINED_END, SCOPE; optional TX_LIST_TYPE (serious-dishonesty,',
    '              bad-behaviour, watch), TX_GROUNDS_CATEGORY, TX_PUBLISH_START/END; issued by this node',
    '  FILE        a JSON array of rows, or an object holding one (e.g. {"DATA": [...]})',
    '  --dry-run   check every row (here and against the node\'s state), write nothing',
    ...addressLines,
    '',
    'Legacy codes failing only their check character need TX_USCC_OVERRIDE_REASON and',
    'TX_USCC_OVERRIDE_APPROVED_BY. Unknown fields are ignored.',
    '',
    'Exit: 0 imported (or checked), 1 some rows refused (each is listed; nothing written), 2 unreadable',
    'file, bad usage or the node could not answer.',
  ].join('\n'),
  options: { ...nodeOptions, api: { type: 'string' }, 'dry-run': { type: 'boolean' } },
  positionals: { min: 2, max: 2 },
  async run(args, io) {
    const kind = kindOf(args);
    const rows = readRows(args.positionals[1]!);
    if (rows.length > importRowsMax) throw new UsageError(`${rows.length} rows: at most ${importRowsMax} per import (importRowsMax); split the file`);
    const errors: SpecRowError[] = [];
    const items: ImportItem[] = [];
    rows.forEach((row, i) => {
      if (kind === 'entities') {
        const mapped = entityFromRow(row, i);
        if ('ok' in mapped) items.push({ item: { $case: 'entity', value: mapped.ok } });
        else errors.push(...mapped.errors);
      } else {
        const mapped = sanctionFromRow(row, i);
        if ('ok' in mapped) items.push({ item: { $case: 'sanction', value: mapped.ok } });
        else errors.push(...mapped.errors);
      }
    });
    if (errors.length > 0) {
      printErrors(io, args, errors);
      return exitNegative;
    }
    const dryRun = args.values['dry-run'] === true;
    return callDomain(args, io, async (api) => {
      const report = await stageAndCommit(api, kind, items, dryRun, io);
      const counts = { created: report.created, updated: report.updated, unchanged: report.unchanged };
      if (report.errors.length > 0) {
        printErrors(io, args, specErrors(kind, report.errors), counts);
        return exitNegative;
      }
      if (args.values.json) {
        printJson(io, { written: report.written, dryRun, rows: rows.length, ...counts });
      } else {
        const what = kind === 'entities' ? ['registered', 'updated'] : ['issued', 'updated'];
        const verb = dryRun ? 'would be' : 'were';
        io.stdout(`${rows.length} row(s) checked${dryRun ? ' (dry run: nothing written)' : ' and written'}: ${report.created} ${verb} ${what[0]}, ${report.updated} ${verb} ${what[1]}, ${report.unchanged} already recorded exactly so\n`);
      }
      return exitOk;
    });
  },
};

const exportCommand: Command = {
  path: ['export'],
  summary: 'Export entities or sanctions as a data-specification JSON file',
  usage: [
    '(entities | sanctions) [--out FILE] [--own] [--api HOST:PORT] [--json]',
    '',
    '  --out FILE  write the rows there (default: standard output)',
    '  --own       only entities whose home node this is, or sanctions it issued (default: every member\'s)',
    ...addressLines,
    '',
    'Rows use the vocabulary `tongxing import` reads, plus TX_HOME_CITY / TX_ISSUER_CITY and, for lifted',
    'sanctions, TX_LIFTED_AT and TX_LIFT_REASON.',
  ].join('\n'),
  options: { ...nodeOptions, api: { type: 'string' }, out: { type: 'string' }, own: { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const kind = kindOf(args);
    const out = optional(args, 'out');
    const ownOnly = args.values.own === true;
    return callDomain(args, io, async (api) => {
      const rows: DataSpecRow[] = [];
      const bar = progress(`export ${kind}`, { unit: 'rows', stream: { write: (text) => io.stderr(text), isTTY: process.stderr.isTTY } });
      let pageToken = '';
      do {
        const page = await api.exportRecords({ kind: kinds[kind], pageToken, limit: 0, ownOnly });
        for (const e of page.entities) rows.push(entityToRow(e.profile!, { city: e.home!.authorCity, nodeId: hex(e.home!.author) }));
        for (const s of page.sanctions) rows.push(sanctionToRow(s.sanction!, { issuerCity: s.issued!.authorCity, issuer: hex(s.issued!.author), lift: s.lift }));
        bar.update(rows.length);
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      bar.finish();
      const text = JSON.stringify(rows, null, 2) + '\n';
      if (out === undefined) {
        io.stdout(text);
      } else {
        writeOutput(out, text);
        if (args.values.json) printJson(io, { rows: rows.length, file: out });
        else io.stdout(`${rows.length} ${kind} written to ${out}\n`);
      }
      return exitOk;
    });
  },
};

export const transferCommands: Command[] = [importCommand, exportCommand];
