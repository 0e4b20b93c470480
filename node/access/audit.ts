import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { auditFileBytesMax, auditFilesKept, auditReadRecordsMax } from '../limits.js';

// The node's local audit trail: one JSON object per line, appended to
// DIR/audit.jsonl. Records are appended by a writer that groups the records
// of one turn of the event loop and fsyncs them together, and a write's
// answer waits for its record to be durable (`record` resolves then). A crash
// can tear only the last line, which readers skip. Past auditFileBytesMax the
// file is renamed audit-<ms>.jsonl and a new one started; auditFilesKept
// rotated files are kept. Backups copy the directory.

export interface AuditRecord {
  readonly atMs: number;
  /** The registered client's name; '' when the caller could not be identified. */
  readonly client: string;
  readonly operator: string;
  /** gRPC path without the leading slash, e.g. tongxing.api.v1.SanctionService/IssueSanction. */
  readonly method: string;
  readonly subject: string;
  /** 'ok' or a gRPC status name. */
  readonly outcome: string;
  readonly detail: string;
  readonly transport: 'grpc' | 'http';
}

export interface AuditQuery {
  readonly client?: string;
  readonly sinceMs?: number;
  readonly limit?: number;
}

const currentName = 'audit.jsonl';
const rotatedPattern = /^audit-(\d+)\.jsonl$/;

export class AuditTrail {
  readonly #directory: string;
  readonly #path: string;
  readonly #clock: () => number;
  #bytes: number;
  #pending: string[] = [];
  #flushed: Promise<void> | undefined;

  constructor(directory: string, clock: () => number = Date.now) {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    this.#directory = directory;
    this.#path = join(directory, currentName);
    this.#clock = clock;
    this.#bytes = existsSync(this.#path) ? statSync(this.#path).size : 0;
    // A crash mid-append leaves a torn last line: end it, so the next record is a line of its own.
    if (this.#bytes > 0 && !readFileSync(this.#path).subarray(-1).equals(Buffer.from('\n'))) {
      appendFileSync(this.#path, '\n');
      this.#bytes += 1;
    }
  }

  get directory(): string {
    return this.#directory;
  }

  /** Appends one record; resolves once it is on disk with the others of this turn. */
  record(record: Omit<AuditRecord, 'atMs'>): Promise<void> {
    this.#pending.push(JSON.stringify({ atMs: this.#clock(), ...record }) + '\n');
    this.#flushed ??= new Promise<void>((resolve, reject) =>
      setImmediate(() => {
        this.#flushed = undefined;
        try {
          this.#flush();
          resolve();
        } catch (error) {
          reject(error);
        }
      }),
    );
    return this.#flushed;
  }

  #flush(): void {
    const text = this.#pending.join('');
    this.#pending = [];
    if (this.#bytes > 0 && this.#bytes + Buffer.byteLength(text) > auditFileBytesMax) this.#rotate();
    const fd = openSync(this.#path, 'a', 0o600);
    try {
      appendFileSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.#bytes += Buffer.byteLength(text);
  }

  #rotate(): void {
    renameSync(this.#path, join(this.#directory, `audit-${this.#clock()}.jsonl`));
    this.#bytes = 0;
    for (const old of this.#rotated().slice(0, -auditFilesKept)) unlinkSync(join(this.#directory, old));
  }

  /** Rotated files, oldest first. */
  #rotated(): string[] {
    return readdirSync(this.#directory)
      .filter((f) => rotatedPattern.test(f))
      .sort((a, b) => Number(rotatedPattern.exec(a)![1]) - Number(rotatedPattern.exec(b)![1]));
  }

  /** The trail's files, oldest first, with their size now (a backup copies that much of each: the current one only grows). */
  files(): Array<{ name: string; path: string; bytes: number }> {
    return [...this.#rotated(), currentName]
      .map((name) => ({ name, path: join(this.#directory, name) }))
      .filter((f) => existsSync(f.path))
      .map((f) => ({ ...f, bytes: statSync(f.path).size }));
  }

  /**
   * Matching records, oldest first, at most `limit` (auditReadRecordsMax); `truncated` when more matched.
   * Files rotated before `sinceMs` are not read (a rotated file's name is the time it was closed), lines
   * of other clients are skipped before they are parsed, and each file is read without blocking.
   */
  async read(query: AuditQuery = {}): Promise<{ records: AuditRecord[]; truncated: boolean }> {
    const limit = Math.min(query.limit || auditReadRecordsMax, auditReadRecordsMax);
    const records: AuditRecord[] = [];
    const since = query.sinceMs ?? 0;
    const files = [...this.#rotated().filter((f) => Number(rotatedPattern.exec(f)![1]) >= since), currentName];
    const clientMark = query.client ? `"client":${JSON.stringify(query.client)},` : undefined;
    for (const file of files) {
      let text: string;
      try {
        text = await readFile(join(this.#directory, file), 'utf8');
      } catch {
        continue; // rotated away meanwhile, or not written yet
      }
      for (const line of text.split('\n')) {
        if (line === '' || (clientMark !== undefined && !line.includes(clientMark))) continue;
        let record: AuditRecord;
        try {
          record = JSON.parse(line);
        } catch {
          continue; // a line torn by a crash
        }
        if (query.client !== undefined && query.client !== '' && record.client !== query.client) continue;
        if (query.sinceMs !== undefined && record.atMs < query.sinceMs) continue;
        if (records.length === limit) return { records, truncated: true };
        records.push(record);
      }
    }
    return { records, truncated: false };
  }
}
