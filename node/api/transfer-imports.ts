import { ImportState, StageImportRequest, type ImportItem, type ImportReport, type RowError } from '../../gen/tongxing/api/v1/transfer.js';
import { assert, LimitError, NotFoundError, PreconditionError, ValidationError } from '../../federation/errors.js';
import { importBytesMax, importBytesTotalMax, importErrorsReportedMax, importIdleTimeoutMs, importLifetimeMsMax, importOutcomeKeptMs, importOutcomesKeptMax, importRowsMax, importSessionsMax, importSessionsPerClientMax } from '../limits.js';
import { checkRow, duplicateOf, rowKeyCharsOf, type ImportKind, type RowContext } from './transfer-rows.js';

// What a node holds for imports being staged, and for a while about finished
// ones. Memory is bounded in bytes: valid rows are kept encoded (as on the
// wire), an invalid row only as its error (at most importErrorsReportedMax of
// them, the rest counted), and once any row fails no row is kept at all (the
// import can no longer be written). A staged import is dropped when idle for
// importIdleTimeoutMs or importLifetimeMsMax after it started; once committing
// it stays until its commit ends, then only its outcome is kept.

export type { ImportKind } from './transfer-rows.js';

/** Bookkeeping per staged row beyond its encoded bytes (its key in the duplicate index); an estimate of V8's Map entry and string header. */
const rowBookkeepingBytes = 96;
/** The same for a kept row error, beyond its field and reason. */
const errorBookkeepingBytes = 64;

/**
 * What staging `items` adds to an import's bytes when it keeps them: what
 * StagedImport.stage accounts (within an expert ref per expert row, which the
 * node adds), for callers that check a file up front.
 */
export function stagedBytesOf(items: readonly ImportItem[], keyChars: (item: ImportItem) => number = rowKeyCharsOf): number {
  return encodeRows(items).length + items.reduce((sum, item) => sum + rowBookkeepingBytes + keyChars(item), 0);
}

const encodeRows = (items: readonly ImportItem[]): Uint8Array => StageImportRequest.encode({ importId: '', kind: 0, firstRow: 0, items: [...items] }).finish();
const errorBytes = (e: RowError): number => errorBookkeepingBytes + e.field.length + e.reason.length;

export interface ImportBounds {
  readonly rowsMax: number;
  readonly bytesMax: number;
  readonly errorsReportedMax: number;
}

const defaultBounds: ImportBounds = { rowsMax: importRowsMax, bytesMax: importBytesMax, errorsReportedMax: importErrorsReportedMax };

/** One import's rows, in order, and the errors its rows have without looking at state. */
export class StagedImport {
  rows = 0;
  /** Every error found; `errors` keeps the first bounds.errorsReportedMax. */
  errorsTotal = 0;
  readonly errors: RowError[] = [];
  /** Records written so far by its commit. */
  recordsWritten = 0;
  #chunks: Uint8Array[] = [];
  #chunkBytes = 0;
  #bookkeepingBytes = 0;
  /** Row index by key (transfer-rows.ts: USCC, sanction id, certificate issuer/serial, CRL digest, expert ref), to report duplicates within the import. */
  #seen = new Map<string, number>();
  /** Rows whose certificate or CRL chain already verified in a dry run of this import, so the commit does not verify them again. */
  #verified: Uint8Array | undefined;

  constructor(
    readonly kind: ImportKind,
    readonly bounds: ImportBounds = defaultBounds,
    readonly context: RowContext = {},
  ) {}

  /** Marks row `row` as verified (see isVerified). */
  markVerified(row: number): void {
    if (this.#verified === undefined || this.#verified.length * 8 <= row) {
      // Rows may be staged after a dry run: grow, keeping the marks.
      const grown = new Uint8Array(Math.ceil(this.rows / 8));
      if (this.#verified) grown.set(this.#verified);
      this.#verified = grown;
    }
    this.#verified[row >> 3]! |= 1 << (row & 7);
  }

  /** Whether an earlier dry run of this import verified row `row`'s chain (the rows cannot change once staged). */
  isVerified(row: number): boolean {
    return ((this.#verified?.[row >> 3] ?? 0) & (1 << (row & 7))) !== 0;
  }

  /** Bytes this import holds now (see importBytesMax). */
  get bytes(): number {
    return this.#chunkBytes + this.#bookkeepingBytes;
  }

  /**
   * Checks `items` (rows firstRow, firstRow + 1, ...) and keeps them; answers
   * their errors. Throws LimitError, keeping nothing of them, when they would
   * take the import past its rows or bytes, or past `bytesAvailable` more.
   */
  stage(items: readonly ImportItem[], firstRow: number, bytesAvailable = Infinity): RowError[] {
    assert(firstRow === this.rows, 'rows are staged in order');
    if (this.rows + items.length > this.bounds.rowsMax) {
      throw new LimitError(`import of ${this.rows + items.length} rows is over importRowsMax ${this.bounds.rowsMax}: split the file`);
    }
    const fresh = new Map<string, number>();
    const errors: RowError[] = [];
    const kept: ImportItem[] = [];
    for (const [i, item] of items.entries()) {
      const checked = this.#check(item, firstRow + i, fresh);
      if ('error' in checked) errors.push(checked.error);
      else kept.push(checked.item);
    }
    const failed = this.errorsTotal > 0 || errors.length > 0;
    const chunk = failed ? undefined : encodeRows(kept);
    const keptErrors = errors.slice(0, Math.max(0, this.bounds.errorsReportedMax - this.errors.length));
    let bookkeeping = keptErrors.reduce((sum, e) => sum + errorBytes(e), 0);
    for (const key of fresh.keys()) bookkeeping += rowBookkeepingBytes + key.length;
    // A failing import drops the rows it kept: they can no longer be written.
    const added = (chunk?.length ?? 0) + bookkeeping - (failed ? this.#chunkBytes : 0);
    if (this.bytes + added > this.bounds.bytesMax) {
      throw new LimitError(`import would hold ${(this.bytes + added).toLocaleString('en-US')} bytes, over importBytesMax ${this.bounds.bytesMax.toLocaleString('en-US')}: split the file`);
    }
    if (added > bytesAvailable) {
      throw new LimitError(
        `staged imports on this node would hold ${added.toLocaleString('en-US')} bytes more than importBytesTotalMax allows (${Math.max(0, bytesAvailable).toLocaleString('en-US')} left): retry once another import is committed, aborted or dropped`,
      );
    }
    for (const [key, row] of fresh) this.#seen.set(key, row);
    this.#bookkeepingBytes += bookkeeping;
    this.errors.push(...keptErrors);
    this.errorsTotal += errors.length;
    this.rows += items.length;
    if (failed) this.#dropRows();
    else this.#keep(chunk!);
    return errors;
  }

  /** The staged rows with their row index, decoded one chunk at a time. Only while no row failed. */
  *items(): Generator<[number, ImportItem]> {
    assert(this.errorsTotal === 0, 'a failed import keeps no rows');
    const chunks = this.#chunks; // a snapshot: release() during the walk does not cut it short
    let row = 0;
    for (const chunk of chunks) for (const item of StageImportRequest.decode(chunk).items) yield [row++, item];
    assert(row === this.rows, 'every staged row is kept');
  }

  /** Every key of the import (transfer-rows.ts). */
  keys(): IterableIterator<string> {
    return this.#seen.keys();
  }

  /** Lets go of every row and index; the errors and counts stay for the outcome. */
  release(): void {
    this.#dropRows();
    this.#seen = new Map();
    this.#bookkeepingBytes = this.errors.reduce((sum, e) => sum + errorBytes(e), 0);
  }

  #keep(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#chunkBytes += chunk.length;
  }

  #dropRows(): void {
    this.#chunks = [];
    this.#chunkBytes = 0;
  }

  /** Stateless checks of one row (transfer-rows.ts), and its key used once in the import; answers the row as kept. */
  #check(item: ImportItem, row: number, fresh: Map<string, number>): { item: ImportItem } | { error: RowError } {
    const checked = checkRow(this.kind, item, this.context);
    if ('error' in checked) return { error: { row, ...checked.error } };
    const first = this.#seen.get(checked.key) ?? fresh.get(checked.key);
    if (first !== undefined) {
      const { field, what } = duplicateOf(checked.item, checked.key);
      return { error: { row, field, reason: `${what} is also row ${first}: each appears once in an import` } };
    }
    fresh.set(checked.key, row);
    return { item: checked.item };
  }
}

/** How a finished import ended; kept importOutcomeKeptMs for GetImport and a repeated CommitImport. */
export type ImportOutcome =
  | { readonly state: ImportState.IMPORT_STATE_COMMITTED | ImportState.IMPORT_STATE_REFUSED; readonly report: ImportReport }
  | { readonly state: ImportState.IMPORT_STATE_FAILED; readonly error: unknown; readonly detail: string }
  | { readonly state: ImportState.IMPORT_STATE_ABORTED | ImportState.IMPORT_STATE_EXPIRED; readonly detail: string };

interface Entry {
  /** The client that started it (access guard's name): only it stages, commits, aborts or reads it. */
  readonly owner: string;
  readonly import: StagedImport;
  readonly startedAtMs: number;
  lastUsedAtMs: number;
  /** Set once committing: the commit, which ends in an outcome. */
  commit?: Promise<ImportReport>;
}

interface Finished {
  readonly owner: string;
  readonly outcome: ImportOutcome;
  readonly rows: number;
  readonly recordsWritten: number;
  readonly finishedAtMs: number;
}

/** Where an import is, as GetImport answers it. */
export interface ImportStatus {
  readonly state: ImportState;
  readonly rows: number;
  readonly recordsWritten: number;
  readonly report?: ImportReport;
  readonly detail: string;
  /** While staging: when it is dropped unless used. */
  readonly expiresAtMs?: number;
}

export interface StagedImportsInit {
  readonly clock: { nowMs(): number };
  readonly newId: () => string;
  readonly bounds?: Partial<ImportBounds & { bytesTotalMax: number; sessionsMax: number; idleTimeoutMs: number; lifetimeMsMax: number; outcomesKeptMax: number; outcomeKeptMs: number }>;
}

/** The imports one node stages (at most importSessionsMax, importBytesTotalMax bytes together) and the outcomes of recently finished ones. */
export class StagedImports {
  readonly #clock: { nowMs(): number };
  readonly #newId: () => string;
  readonly #bounds: ImportBounds;
  readonly #bytesTotalMax: number;
  readonly #sessionsMax: number;
  readonly #idleTimeoutMs: number;
  readonly #lifetimeMsMax: number;
  readonly #outcomesKeptMax: number;
  readonly #outcomeKeptMs: number;
  readonly #entries = new Map<string, Entry>();
  /** In the order they finished. */
  readonly #finished = new Map<string, Finished>();

  constructor(init: StagedImportsInit) {
    const b = init.bounds ?? {};
    this.#clock = init.clock;
    this.#newId = init.newId;
    this.#bounds = { rowsMax: b.rowsMax ?? importRowsMax, bytesMax: b.bytesMax ?? importBytesMax, errorsReportedMax: b.errorsReportedMax ?? importErrorsReportedMax };
    this.#bytesTotalMax = b.bytesTotalMax ?? importBytesTotalMax;
    this.#sessionsMax = b.sessionsMax ?? importSessionsMax;
    this.#idleTimeoutMs = b.idleTimeoutMs ?? importIdleTimeoutMs;
    this.#lifetimeMsMax = b.lifetimeMsMax ?? importLifetimeMsMax;
    this.#outcomesKeptMax = b.outcomesKeptMax ?? importOutcomesKeptMax;
    this.#outcomeKeptMs = b.outcomeKeptMs ?? importOutcomeKeptMs;
  }

  /** Bytes every import held here holds now (at most importBytesTotalMax). */
  get bytes(): number {
    let sum = 0;
    for (const entry of this.#entries.values()) sum += entry.import.bytes;
    return sum;
  }

  /** Imports staging or committing now (at most importSessionsMax). */
  get size(): number {
    return this.#entries.size;
  }

  /** A new, empty import of `owner`; LimitError naming importSessionsMax (or importSessionsPerClientMax) when that many are held. */
  start(kind: ImportKind, owner = '', context: RowContext = {}): { id: string; import: StagedImport } {
    this.#sweep();
    if (this.#entries.size >= this.#sessionsMax) {
      throw new LimitError(
        `${this.#entries.size} imports are staged or committing on this node (importSessionsMax ${this.#sessionsMax}): commit or abort one, or wait until one has been idle for importIdleTimeoutMs (${this.#idleTimeoutMs} ms)`,
      );
    }
    const owned = [...this.#entries.values()].filter((e) => e.owner === owner).length;
    if (owned >= importSessionsPerClientMax) {
      throw new LimitError(`client ${owner} has ${owned} imports staged or committing (importSessionsPerClientMax ${importSessionsPerClientMax}): commit or abort one first`);
    }
    const nowMs = this.#clock.nowMs();
    const id = this.#newId();
    assert(!this.#entries.has(id) && !this.#finished.has(id), 'import ids are not reused');
    const staged = new StagedImport(kind, this.#bounds, context);
    this.#entries.set(id, { owner, import: staged, startedAtMs: nowMs, lastUsedAtMs: nowMs });
    return { id, import: staged };
  }

  /** Stages more rows of import `id` (see StagedImport.stage), within what the node's other imports leave. */
  stage(id: string, items: readonly ImportItem[], firstRow: number, kind?: ImportKind, owner = ''): { import: StagedImport; errors: RowError[]; expiresAtMs: number } {
    const entry = this.#staging(id, 'staged to', owner);
    if (kind !== undefined && kind !== entry.import.kind) throw new ValidationError('kind', `import ${id} holds ${entry.import.kind}`);
    if (firstRow !== entry.import.rows) {
      throw new ValidationError('firstRow', `${firstRow}, but ${entry.import.rows} rows are staged: send the rows in order, each once`);
    }
    const errors = entry.import.stage(items, firstRow, this.#bytesTotalMax - this.bytes);
    entry.lastUsedAtMs = this.#clock.nowMs();
    return { import: entry.import, errors, expiresAtMs: this.#expiresAtMs(entry) };
  }

  /** A staging import, for a dry run: it stays staged. */
  dryRun(id: string, owner = ''): StagedImport {
    const entry = this.#staging(id, 'checked', owner);
    entry.lastUsedAtMs = this.#clock.nowMs();
    return entry.import;
  }

  /**
   * Commits import `id` with `run` (once: a second call while committing, or
   * after, answers the same outcome). The commit goes on whoever waits for it;
   * when it ends the rows are let go and only the outcome is kept.
   */
  commit(id: string, rows: number, run: (staged: StagedImport) => Promise<ImportReport>, owner = ''): Promise<ImportReport> {
    this.#sweep();
    if (!this.#owns(id, owner)) return Promise.reject(this.#unknown(id));
    const entry = this.#entries.get(id);
    if (!entry) return this.#finishedReport(id);
    if (rows !== entry.import.rows) throw new ValidationError('rows', `${rows}, but ${entry.import.rows} rows are staged`);
    if (entry.commit) return entry.commit;
    const staged = entry.import;
    const finish = (outcome: ImportOutcome) => {
      staged.release();
      this.#entries.delete(id);
      this.#remember(id, { owner: entry.owner, outcome, rows: staged.rows, recordsWritten: staged.recordsWritten, finishedAtMs: this.#clock.nowMs() });
    };
    entry.commit = run(staged).then(
      (report) => {
        finish({ state: report.written ? ImportState.IMPORT_STATE_COMMITTED : ImportState.IMPORT_STATE_REFUSED, report });
        return report;
      },
      (error: unknown) => {
        finish({ state: ImportState.IMPORT_STATE_FAILED, error, detail: error instanceof Error ? error.message : String(error) });
        throw error;
      },
    );
    return entry.commit;
  }

  /** Drops staging import `id` and its rows; nothing was written. Again after that: its state. */
  abort(id: string, owner = ''): ImportState {
    this.#sweep();
    if (!this.#owns(id, owner)) throw this.#unknown(id);
    const entry = this.#entries.get(id);
    if (!entry) {
      const finished = this.#finished.get(id);
      if (!finished) throw this.#unknown(id);
      const state = finished.outcome.state;
      if (state === ImportState.IMPORT_STATE_ABORTED || state === ImportState.IMPORT_STATE_EXPIRED) return state;
      throw new PreconditionError(`importId: import ${id} has finished (${ImportState[state]}): nothing to abort`);
    }
    if (entry.commit) throw new PreconditionError(`importId: import ${id} is being committed: it cannot be aborted; GetImport tells its outcome`);
    this.#drop(id, entry, { state: ImportState.IMPORT_STATE_ABORTED, detail: 'aborted: nothing was written' });
    return ImportState.IMPORT_STATE_ABORTED;
  }

  status(id: string, owner = ''): ImportStatus {
    this.#sweep();
    if (!this.#owns(id, owner)) throw this.#unknown(id);
    const entry = this.#entries.get(id);
    if (entry) {
      const { rows, recordsWritten } = entry.import;
      if (entry.commit) return { state: ImportState.IMPORT_STATE_COMMITTING, rows, recordsWritten, detail: `committing: ${rows} rows are checked and then written in one atomic write (all or none)` };
      return { state: ImportState.IMPORT_STATE_STAGING, rows, recordsWritten, detail: `${rows} rows staged`, expiresAtMs: this.#expiresAtMs(entry) };
    }
    const finished = this.#finished.get(id);
    if (!finished) throw this.#unknown(id);
    const { outcome, rows, recordsWritten } = finished;
    const report = 'report' in outcome ? outcome.report : undefined;
    const detail = 'detail' in outcome ? outcome.detail : report!.written ? 'committed' : `refused: ${report!.errorsTotal} row error(s); nothing was written`;
    return { state: outcome.state, rows, recordsWritten, report, detail };
  }

  /** Whether `owner` may touch import `id`; another client's import is as unknown to it as one never staged. */
  #owns(id: string, owner: string): boolean {
    const holder = this.#entries.get(id)?.owner ?? this.#finished.get(id)?.owner;
    return holder === undefined || holder === owner;
  }

  #staging(id: string, what: string, owner: string): Entry {
    this.#sweep();
    if (!this.#owns(id, owner)) throw this.#unknown(id);
    const entry = this.#entries.get(id);
    if (!entry) {
      const finished = this.#finished.get(id);
      if (!finished) throw this.#unknown(id);
      throw new NotFoundError(`importId: import ${id} cannot be ${what}: ${this.status(id, owner).detail}`);
    }
    if (entry.commit) throw new PreconditionError(`importId: import ${id} is being committed: GetImport tells its outcome`);
    return entry;
  }

  #finishedReport(id: string): Promise<ImportReport> {
    const finished = this.#finished.get(id);
    if (!finished) return Promise.reject(this.#unknown(id));
    const { outcome } = finished;
    if ('report' in outcome) return Promise.resolve(outcome.report);
    if ('error' in outcome) return Promise.reject(outcome.error);
    return Promise.reject(new NotFoundError(`importId: no staged import ${id}: ${outcome.detail}`));
  }

  #unknown(id: string): NotFoundError {
    return new NotFoundError(`importId: no import ${JSON.stringify(id)} here (never staged, or finished more than importOutcomeKeptMs ${this.#outcomeKeptMs} ms ago, or this node restarted)`);
  }

  #expiresAtMs(entry: Entry): number {
    return Math.min(entry.lastUsedAtMs + this.#idleTimeoutMs, entry.startedAtMs + this.#lifetimeMsMax);
  }

  #drop(id: string, entry: Entry, outcome: ImportOutcome): void {
    entry.import.release();
    this.#entries.delete(id);
    this.#remember(id, { owner: entry.owner, outcome, rows: entry.import.rows, recordsWritten: 0, finishedAtMs: this.#clock.nowMs() });
  }

  #remember(id: string, finished: Finished): void {
    this.#finished.set(id, finished);
    for (const oldest of this.#finished.keys()) {
      if (this.#finished.size <= this.#outcomesKeptMax) break;
      this.#finished.delete(oldest);
    }
  }

  /** Drops staging imports idle or too old (committing ones run to their end), and outcomes kept long enough. */
  #sweep(): void {
    const nowMs = this.#clock.nowMs();
    for (const [id, entry] of this.#entries) {
      if (entry.commit || nowMs < this.#expiresAtMs(entry)) continue;
      const idle = nowMs - entry.lastUsedAtMs >= this.#idleTimeoutMs;
      const detail = idle
        ? `dropped after ${nowMs - entry.lastUsedAtMs} ms without a StageImport or CommitImport (importIdleTimeoutMs ${this.#idleTimeoutMs}); nothing was written`
        : `dropped ${nowMs - entry.startedAtMs} ms after it started (importLifetimeMsMax ${this.#lifetimeMsMax}); nothing was written`;
      this.#drop(id, entry, { state: ImportState.IMPORT_STATE_EXPIRED, detail });
    }
    for (const [id, finished] of this.#finished) {
      if (nowMs - finished.finishedAtMs < this.#outcomeKeptMs) break;
      this.#finished.delete(id);
    }
  }
}
