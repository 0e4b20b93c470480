import type { Options } from './command.js';
import { optional, printJson, UsageError, type Io, type Parsed } from './command.js';
import { ApiError, defaultApiAddress, withApi, type ApiClient, type ApiClientOptions } from '../api/client.js';
import { exitCodeOf } from '../error-table.js';
import { findCredential } from '../access/credential.js';
import { chinaOffsetMs, readTime, timeFormsText } from '../../federation/records/dates.js';

// What every command that talks to a node's client API shares: the --node
// option, turning ApiErrors into a message and an exit code, and how times
// are read and shown.

export const nodeOptions: Options = { node: { type: 'string' }, credential: { type: 'string' }, operator: { type: 'string' }, json: { type: 'boolean' } };

export const nodeUsageLines = [
  `  --node HOST:PORT  the node's client API address (default ${defaultApiAddress}, or the --credential's)`,
  '  --credential FILE who calls (default TONGXING_CREDENTIAL, else the admin credential a node on this',
  '                    machine wrote to DATADIR/admin.credential for that address)',
  '  --operator NAME   the person at the screen, recorded in the node\'s audit trail',
  '  --json            print one JSON object (on failure: {"error": {"node", "code", "details"}})',
];

const addressPattern = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

/**
 * Where and as whom a command calls its node: --node (else the named
 * credential's address, else the default) and the credential (--credential,
 * TONGXING_CREDENTIAL, or the one a node here published for the address),
 * read once, with --operator.
 */
export function nodeConnection(args: Parsed): { address: string; options: ApiClientOptions } {
  const named = optional(args, 'credential');
  const given = optional(args, 'node');
  const chosen = given === undefined && (named !== undefined || process.env.TONGXING_CREDENTIAL) ? findCredential(undefined, named) : undefined;
  const address = given ?? chosen?.grpc ?? defaultApiAddress;
  const port = Number(addressPattern.exec(address)?.[3] ?? -1);
  if (port < 1 || port > 65535) throw new UsageError(`--node must be HOST:PORT, e.g. ${defaultApiAddress}; got ${JSON.stringify(address)}`);
  return { address, options: { credential: chosen ?? findCredential(address, named), operator: optional(args, 'operator') } };
}

/** Calls the node named by --node with the client of `use`. */
export function callNode(args: Parsed, io: Io, use: (api: ApiClient) => Promise<number>): Promise<number> {
  return answered(args, io, () => {
    const { address, options } = nodeConnection(args);
    return withApi(address, use, options);
  });
}

/**
 * What a command does when its call fails: an ApiError is printed as
 * "tongxing: node at HOST:PORT: CODE: details" and exits with the code
 * node/error-table.ts gives its status.
 */
export async function answered(args: Parsed, io: Io, call: () => Promise<number>): Promise<number> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (args.values.json) printJson(io, { error: { node: error.address, code: error.code, details: error.details } });
    io.stderr(`tongxing: ${error.message}\n`);
    return exitCodeOf(error);
  }
}

/** Durations as people read them: 850 ms, 1.2 s, 3.5 min, 2.0 h, 4.1 d. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  if (ms < 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} d`;
}

/** "2025-03-01" for a CST midnight, else "2025-03-01 14:30:05 +08:00". */
export function formatTime(ms: number): string {
  const iso = new Date(ms + chinaOffsetMs).toISOString();
  if (iso.endsWith('T00:00:00.000Z')) return iso.slice(0, 10);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} +08:00`;
}

/**
 * An ISO 8601 time with an explicit zone (2025-03-01T14:30:00+08:00, ...Z), or a
 * date alone (2025-03-01), which means 00:00 China Standard Time; calendar-valid
 * (federation/records/dates.ts: 2026-02-30 is refused, not rolled over).
 */
export function parseTime(text: string, option: string): number {
  const forms = ['date', 'zoned'] as const;
  const read = readTime(text, forms);
  if ('problem' in read && read.spelling) throw new UsageError(`${option} must be ${timeFormsText(forms)}; got ${JSON.stringify(text)}`);
  if ('problem' in read) throw new UsageError(`${option}: ${read.problem}`);
  if (read.ms < 0) throw new UsageError(`${option}: ${JSON.stringify(text)} is before 1970`);
  return read.ms;
}

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Node ids are shown by this many hex digits (48 bits: unambiguous in any alliance). */
export const nodeIdPrefixChars = 12;
