import { ImportItem, ImportState, TransferKind, type ExportedCertificate, type ExportedCrl, type GetImportResponse, type ImportReport, type RowError } from '../../gen/tongxing/api/v1/transfer.js';
import { TongxingError } from '../../federation/errors.js';
import { apiCallTimeoutMs, apiRequestBytesMax, importBytesMax, importCommitWaitMsMax, importRowsMax, importStatusPollMs } from '../limits.js';
import { dataSpecField, entityFromRow, entityToRow, rowsOf, sanctionFromRow, sanctionToRow, type DataSpecRow, type RowResult } from '../../federation/records/dataspec.js';
import { ApiError } from '../api/client.js';
import type { DomainClient } from '../api/domain-client.js';
import { stagedBytesOf } from '../api/transfer-imports.js';
import type { ImportKind } from '../api/transfer-rows.js';
import { certificateField, readCertificateSource, writeCertificateExport, type ItemOrigin, type SourceError } from './import-certificates.js';
import { expertField, expertFromRow, expertToRow } from './import-experts.js';
import { callDomain } from './cert.js';
import { exitNegative, exitOk, optional, printJson, UsageError, type Command, type Io, type Parsed } from './command.js';
import { readInput, writeOutput } from './crypto.js';
import { formatDuration, hex, nodeOptions, nodeUsageLines } from './node-client.js';
import { progress } from './progress.js';

// `tongxing import|export entities|sanctions|certificates|experts`: files in
// the field vocabulary of the national platform data specification (LEGAL_*,
// BLACKLIST_CODE, BODY_*, ID_CARD, ...; federation/records/dataspec.ts,
// import-certificates.ts, import-experts.ts; docs/IMPORTS.md). An import is all or nothing:
// every row is checked here, then by the node against its state, and only when
// none fails is anything written; otherwise each failing row is reported.
// A commit outlives its call: when the call's deadline passes, the CLI asks the
// node how the commit ended (GetImport) and reports only that.

const kinds: Record<ImportKind, TransferKind> = {
  entities: TransferKind.TRANSFER_KIND_ENTITIES,
  sanctions: TransferKind.TRANSFER_KIND_SANCTIONS,
  certificates: TransferKind.TRANSFER_KIND_CERTIFICATES,
  experts: TransferKind.TRANSFER_KIND_EXPERTS,
};

/** Room left in a request for its envelope (ids, field tags). */
const stageEnvelopeBytes = 4 * 1024;

const addressLines = [
  '  --api HOST:PORT   the node\'s client API address (same as --node)',
  ...nodeUsageLines,
];

function kindOf(args: Parsed): ImportKind {
  const kind = args.positionals[0]!;
  if (!Object.hasOwn(kinds, kind)) throw new UsageError(`the first argument is entities, sanctions, certificates or experts, got ${JSON.stringify(kind)}`);
  return kind as ImportKind;
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

/** Row errors (a certificate import's may name a file instead); `total` counts those the node found beyond the ones it reported (importErrorsReportedMax). */
function printErrors(io: Io, args: Parsed, errors: readonly SourceError[], total = errors.length): void {
  if (args.values.json) {
    printJson(io, { written: false, errors, errorsTotal: total });
    return;
  }
  const lines = [`not imported: ${total} problem(s); nothing was written. Rows are numbered from 0, as in the file's array.`];
  for (const e of errors.slice(0, 200)) lines.push(`  ${e.row !== undefined ? `row ${e.row}` : e.file}, ${e.field}: ${e.reason}`);
  if (errors.length > 200) lines.push(`  ... and ${errors.length - 200} more listed (use --json for them)`);
  if (total > errors.length) lines.push(`  (the node reports the first ${errors.length} of ${total}: fix these and import again for the rest)`);
  io.stdout(lines.join('\n') + '\n');
}

/** A record field path as the file names it. */
function fieldOf(kind: ImportKind, path: string): string {
  if (kind === 'certificates') return certificateField(path);
  if (kind === 'experts') return expertField(path);
  return dataSpecField(kind, path);
}

/** The node's row errors, with record fields named in the data-spec vocabulary and rows as the file numbers them (`origins`: which manifest row or file each item came from). */
function specErrors(kind: ImportKind, errors: readonly RowError[], origins?: readonly ItemOrigin[]): SourceError[] {
  return errors.map((e) => ({ ...(origins?.[e.row] ?? { row: e.row }), field: fieldOf(kind, e.field), reason: e.reason }));
}

/** How the CLI waits for a commit after its call's deadline; injected in tests. */
export interface CommitWaiting {
  nowMs(): number;
  sleep(ms: number): Promise<void>;
}

const realWaiting: CommitWaiting = { nowMs: () => Date.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };

/** The call ended without the node's answer; the commit may be going on (or done) there. */
const unanswered = (error: unknown): error is ApiError => error instanceof ApiError && (error.code === 'DEADLINE_EXCEEDED' || error.code === 'UNAVAILABLE' || error.code === 'CANCELLED');

type Bar = ReturnType<typeof progress>;

/** Asks how commit `importId` ends, every importStatusPollMs for up to importCommitWaitMsMax; answers its report, or throws saying what is known. */
async function commitOutcome(api: DomainClient, importId: string, rows: number, bar: Bar, io: Io, waiting: CommitWaiting): Promise<ImportReport> {
  const startMs = waiting.nowMs();
  const unknown = (why: string) =>
    new TongxingError(
      `import ${importId}: outcome unknown: ${why}. Some rows may be written; importing the same file again is safe (rows already written count as unchanged)`,
    );
  io.stderr(`the commit call ended without an answer (deadline ${formatDuration(apiCallTimeoutMs)} by default); the node goes on committing: waiting for its outcome (up to ${formatDuration(importCommitWaitMsMax)})\n`);
  for (;;) {
    // undefined: this ask went unanswered too (the node is busy or restarting); ask again.
    let status: GetImportResponse | undefined;
    try {
      status = await api.getImport(importId);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'NOT_FOUND') throw unknown(`the node no longer knows the import (${error.details})`);
      if (!unanswered(error)) throw error;
    }
    if (status) {
      const { state, report, rowsWritten, detail } = status;
      if (state === ImportState.IMPORT_STATE_COMMITTED || state === ImportState.IMPORT_STATE_REFUSED) return report!;
      if (state === ImportState.IMPORT_STATE_FAILED) throw new TongxingError(`import ${importId} failed while committing, after ${rowsWritten} records were written: ${detail}`);
      if (state === ImportState.IMPORT_STATE_STAGING) {
        // The commit call never reached the node: commit now (a commit already under way would be answered, never repeated).
        try {
          return (await api.commitImport({ importId, rows, dryRun: false })).report!;
        } catch (error) {
          if (!unanswered(error)) throw error;
        }
      } else if (state === ImportState.IMPORT_STATE_COMMITTING) {
        bar.update(rowsWritten);
      } else {
        throw new TongxingError(`import ${importId}: ${ImportState[state]}: ${detail}`);
      }
    }
    if (waiting.nowMs() - startMs >= importCommitWaitMsMax) throw unknown(`still ${status ? 'committing' : 'not answering'} after ${formatDuration(importCommitWaitMsMax)} (importCommitWaitMsMax)`);
    await waiting.sleep(importStatusPollMs);
  }
}

/**
 * Stages `items` in chunks, then commits them; answers the node's report of
 * what was written. A failure while staging aborts the import (nothing was
 * written); a commit call without an answer is followed up with GetImport.
 */
export async function stageAndCommit(api: DomainClient, kind: ImportKind, items: ImportItem[], dryRun: boolean, io: Io, waiting = realWaiting): Promise<ImportReport> {
  const stream = { write: (text: string) => io.stderr(text), isTTY: process.stderr.isTTY };
  const bar = progress(`import ${kind}`, { total: items.length, unit: 'rows', stream });
  let importId = '';
  let first = 0;
  try {
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
  } catch (error) {
    // Let the node drop what it holds now rather than when the import is idle for importIdleTimeoutMs.
    if (importId !== '') await api.abortImport(importId).catch(() => undefined);
    throw error;
  }
  let report: ImportReport;
  try {
    report = (await api.commitImport({ importId, rows: items.length, dryRun })).report!;
  } catch (error) {
    // A dry run writes nothing, so its deadline is the whole answer.
    if (dryRun || !unanswered(error)) throw error;
    const written = progress(`commit ${kind}`, { total: items.length, unit: 'records', stream });
    report = await commitOutcome(api, importId, items.length, written, io, waiting);
    written.finish(report.written ? 'committed' : 'refused');
  }
  bar.finish(report.errorsTotal > 0 || report.errors.length > 0 ? 'refused' : dryRun ? 'checked (dry run)' : 'committed');
  return report;
}

const importCommand: Command = {
  path: ['import'],
  summary: 'Import entities, sanctions, certificates (with CRLs) or experts from data-specification files (all rows or none)',
  usage: [
    '(entities | sanctions | experts) FILE [--dry-run] [--api HOST:PORT] [--json]',
    'certificates PATH [--manifest FILE] [--dry-run] [--api HOST:PORT] [--json]',
    '',
    '  entities      rows of 法人基本信息: LEGAL_CODE, LEGAL_NAME, LEGAL_ROLE, LEGAL_REPRESENT, LEGAL_TYPE,',
    '                REGION_CODE, REG_CAPITAL, LEGAL_STATUS; registered at this node (updated when it is',
    '                already their home node)',
    '  sanctions     rows of 黑名单 / 违法违规: BLACKLIST_CODE, BODY_NAME, BODY_TYPE (entity or expert), BODY_CODE,',
    '                RECORD_REASON or VIOLATING_TYPE, RECORD_DATE, GOVERNMENT, DOCUMENT_CODE, CONFINED_ACTION,',
    '                CONFINED_START, CONFINED_END, SCOPE; optional TX_LIST_TYPE (serious-dishonesty,',
    '                bad-behaviour, watch), TX_GROUNDS_CATEGORY, TX_PUBLISH_START/END; issued by this node',
    '  experts       rows of 评标专家: ID_CARD, EXPERT_NAME, PHONE_NUMBER, COMPANY (kept at this node only),',
    '                MAJOR_CODE, AREA, TX_EMPLOYMENT, TX_STATUS; registered here, their home node',
    '  certificates  PATH: a folder of .pem/.cer/.crt/.der/.crl files (CA certificates and CRLs among them)',
    '                with manifest.json, or one PEM bundle with --manifest; each manifest row names a',
    '                certificate (CERT_FILE or CERT_SERIAL) and its holder (LEGAL_CODE or EXPERT_REF)',
    '  FILE          a JSON array of rows, or an object holding one (e.g. {"DATA": [...]})',
    '  --manifest F  the certificate manifest (default PATH/manifest.json for a folder)',
    '  --dry-run     check every row (here and against the node\'s state), write nothing',
    ...addressLines,
    '',
    'Every field, value and example: docs/IMPORTS.md. Legacy codes failing only their check character',
    'need TX_USCC_OVERRIDE_REASON and TX_USCC_OVERRIDE_APPROVED_BY. Unknown fields are ignored.',
    '',
    'A commit the node has not finished when the call\'s deadline passes goes on there: the CLI asks',
    'how it ends (every importStatusPollMs, up to importCommitWaitMsMax) and reports only that.',
    '',
    'Exit: 0 imported (or checked), 1 some rows refused (each is listed; nothing written), 2 unreadable',
    'file, bad usage, the commit failed, or its outcome is unknown (importing the file again is safe).',
  ].join('\n'),
  options: { ...nodeOptions, api: { type: 'string' }, 'dry-run': { type: 'boolean' }, manifest: { type: 'string' } },
  positionals: { min: 2, max: 2 },
  async run(args, io) {
    const kind = kindOf(args);
    const manifest = optional(args, 'manifest');
    if (manifest !== undefined && kind !== 'certificates') throw new UsageError('--manifest is for certificate imports');
    let items: ImportItem[];
    let origins: ItemOrigin[] | undefined;
    if (kind === 'certificates') {
      const read = readCertificateSource(args.positionals[1]!, manifest);
      if ('errors' in read) {
        printErrors(io, args, read.errors);
        return exitNegative;
      }
      ({ items, origins } = read.source);
    } else {
      const mapped = itemsOf(kind, readRows(args.positionals[1]!));
      if ('errors' in mapped) {
        printErrors(io, args, mapped.errors);
        return exitNegative;
      }
      items = mapped.ok;
    }
    if (items.length > importRowsMax) throw new UsageError(`${items.length} rows: at most ${importRowsMax} per import (importRowsMax); split the file`);
    const bytes = stagedBytesOf(items);
    if (bytes > importBytesMax) {
      throw new UsageError(`${items.length} rows take ${bytes.toLocaleString('en-US')} bytes staged: at most ${importBytesMax.toLocaleString('en-US')} per import (importBytesMax); split the file`);
    }
    const dryRun = args.values['dry-run'] === true;
    return callDomain(args, io, (api) => importRows(api, args, io, kind, items, dryRun, realWaiting, origins));
  },
};

/** The rows of a JSON import file as import items, or every row's errors. */
function itemsOf(kind: Exclude<ImportKind, 'certificates'>, rows: unknown[]): RowResult<ImportItem[]> {
  const errors: SourceError[] = [];
  const items: ImportItem[] = [];
  rows.forEach((row, i) => {
    const mapped: RowResult<ImportItem> = mapItem(kind, row, i);
    if ('ok' in mapped) items.push(mapped.ok);
    else errors.push(...mapped.errors);
  });
  return errors.length > 0 ? { errors: errors as RowError[] } : { ok: items };
}

function mapItem(kind: Exclude<ImportKind, 'certificates'>, row: unknown, i: number): RowResult<ImportItem> {
  const wrap = <T>(mapped: RowResult<T>, item: (value: T) => ImportItem): RowResult<ImportItem> => ('ok' in mapped ? { ok: item(mapped.ok) } : mapped);
  if (kind === 'entities') return wrap(entityFromRow(row, i), (value) => ({ item: { $case: 'entity', value } }));
  if (kind === 'sanctions') return wrap(sanctionFromRow(row, i), (value) => ({ item: { $case: 'sanction', value } }));
  return wrap(expertFromRow(row, i), (value) => ({ item: { $case: 'expert', value } }));
}

/** What the counts of each kind say. */
const countWords: Record<ImportKind, [string, string]> = {
  entities: ['registered', 'updated'],
  sanctions: ['issued', 'updated'],
  certificates: ['recorded (certificates and CRLs)', 'updated'],
  experts: ['registered', 'updated'],
};

/** Stages and commits `items`, then prints what the node did: counts only when it committed (or checked, in a dry run). */
export async function importRows(api: DomainClient, args: Parsed, io: Io, kind: ImportKind, items: ImportItem[], dryRun: boolean, waiting = realWaiting, origins?: readonly ItemOrigin[]): Promise<number> {
  const report = await stageAndCommit(api, kind, items, dryRun, io, waiting);
  if (report.errorsTotal > 0 || report.errors.length > 0) {
    printErrors(io, args, specErrors(kind, report.errors, origins), Math.max(report.errorsTotal, report.errors.length));
    return exitNegative;
  }
  if (!report.written && !dryRun) throw new TongxingError('the node answered the commit without writing and without errors: not imported');
  const counts = { created: report.created, updated: report.updated, unchanged: report.unchanged };
  if (args.values.json) {
    printJson(io, { written: report.written, dryRun, rows: items.length, ...counts });
  } else {
    const what = countWords[kind];
    const verb = dryRun ? 'would be' : 'were';
    io.stdout(`${items.length} row(s) checked${dryRun ? ' (dry run: nothing written)' : ' and written'}: ${report.created} ${verb} ${what[0]}, ${report.updated} ${verb} ${what[1]}, ${report.unchanged} already recorded exactly so\n`);
  }
  return exitOk;
}

const exportCommand: Command = {
  path: ['export'],
  summary: 'Export entities, sanctions, certificates (with CRLs) or experts in the format `tongxing import` reads',
  usage: [
    '(entities | sanctions | experts) [--out FILE] [--own] [--personal] [--api HOST:PORT] [--json]',
    'certificates --out DIR [--own] [--api HOST:PORT] [--json]',
    '',
    '  --out FILE  write the rows there (default: standard output)',
    '  --out DIR   certificates: a new or empty folder, written as certs/, ca/, crls/ and manifest.json',
    '  --own       only what this node wrote: entities and experts whose home node it is, sanctions it',
    '              issued, certificates and CRLs it recorded (default: every member\'s)',
    '  --personal  experts: also the personal fields (ID_CARD, EXPERT_NAME, PHONE_NUMBER, COMPANY) of the',
    '              experts homed here, so the file imports back; needs the personal-data scope, audited',
    ...addressLines,
    '',
    'Rows use the vocabulary `tongxing import` reads (docs/IMPORTS.md), plus TX_HOME_CITY / TX_ISSUER_CITY /',
    'TX_RECORDED_CITY, EXPERT_REF and, for lifted sanctions, TX_LIFTED_AT and TX_LIFT_REASON.',
  ].join('\n'),
  options: { ...nodeOptions, api: { type: 'string' }, out: { type: 'string' }, own: { type: 'boolean' }, personal: { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const kind = kindOf(args);
    const out = optional(args, 'out');
    const ownOnly = args.values.own === true;
    const includePersonal = args.values.personal === true;
    if (includePersonal && kind !== 'experts') throw new UsageError('--personal is for expert exports');
    if (kind === 'certificates' && out === undefined) throw new UsageError('certificates are exported into a folder: give --out DIR');
    return callDomain(args, io, async (api) => {
      const rows: DataSpecRow[] = [];
      const certificates: ExportedCertificate[] = [];
      const crls: ExportedCrl[] = [];
      const bar = progress(`export ${kind}`, { unit: 'rows', stream: { write: (text) => io.stderr(text), isTTY: process.stderr.isTTY } });
      let pageToken = '';
      do {
        const page = await api.exportRecords({ kind: kinds[kind], pageToken, limit: 0, ownOnly, includePersonal });
        for (const e of page.entities) rows.push(entityToRow(e.profile!, { city: e.home!.authorCity, nodeId: hex(e.home!.author) }));
        for (const s of page.sanctions) rows.push(sanctionToRow(s.sanction!, { issuerCity: s.issued!.authorCity, issuer: hex(s.issued!.author), lift: s.lift }));
        for (const e of page.experts) rows.push(expertToRow(e, { city: e.home!.authorCity, nodeId: hex(e.home!.author) }));
        certificates.push(...page.certificates);
        crls.push(...page.crls);
        bar.update(rows.length + certificates.length + crls.length);
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      bar.finish();
      if (kind === 'certificates') {
        const written = writeCertificateExport(out!, certificates, crls, (c) => c.recorded!.authorCity);
        if (args.values.json) printJson(io, { certificates: certificates.length, crls: crls.length, manifest: written.manifest, files: written.files });
        else io.stdout(`${certificates.length} certificate(s) and ${crls.length} CRL(s) written to ${out} (manifest ${written.manifest})\n`);
        return exitOk;
      }
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
