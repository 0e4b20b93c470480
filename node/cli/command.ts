import { parseArgs, type ParseArgsConfig } from 'node:util';
import { TongxingError } from '../../federation/errors.js';

/** Exit codes shared by every command. */
export const exitOk = 0;
/** A negative answer: invalid signature, invalid certificate, sanctioned company. */
export const exitNegative = 1;
/** Bad input or usage: unreadable file, malformed key, unknown option; or a node that gave no answer (node/error-table.ts). */
export const exitUsage = 2;

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stdoutBytes: (bytes: Uint8Array) => void;
}

/**
 * The process's streams. A reader that stops early (`tongxing alliance status
 * --json | head`) closes the pipe: the command's later writes are dropped and
 * it ends with its own exit code, with no EPIPE stack trace. Any other stream
 * error is a broken environment and still throws.
 */
export function processIo(): Io {
  const stdout = quietOnClosedPipe(process.stdout);
  return { stdout, stderr: quietOnClosedPipe(process.stderr), stdoutBytes: stdout };
}

const guarded = new WeakSet<NodeJS.WriteStream>();

function quietOnClosedPipe(stream: NodeJS.WriteStream): (chunk: string | Uint8Array) => void {
  if (!guarded.has(stream)) {
    guarded.add(stream);
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
    });
  }
  return (chunk) => {
    if (!stream.destroyed) stream.write(chunk);
  };
}

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export interface Command {
  /** Words after `tongxing`, e.g. ['crypto', 'sign']. */
  path: string[];
  summary: string;
  /** Usage line(s) and option descriptions shown by --help. */
  usage: string;
  options: Options;
  /** Exact number of positionals, or a range. */
  positionals?: { min: number; max: number };
  run(args: Parsed, io: Io): Promise<number>;
}

/** Bad usage: printed with the command's usage, exit 2. */
export class UsageError extends TongxingError {
  override name = 'UsageError';
}

export function parse(command: Command, argv: string[]): Parsed {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...command.options, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  const { min, max } = command.positionals ?? { min: 0, max: 0 };
  if (!values.help && (positionals.length < min || positionals.length > max)) {
    const want = min === max ? `${min}` : `${min} to ${max}`;
    throw new UsageError(`expected ${want} argument(s), got ${positionals.length}`);
  }
  return { values, positionals };
}

/** A required string option, or a UsageError naming it. */
export function required(args: Parsed, name: string): string {
  const value = args.values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

export function optional(args: Parsed, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
}

export function many(args: Parsed, name: string): string[] {
  const value = args.values[name];
  if (Array.isArray(value)) return value;
  return typeof value === 'string' ? [value] : [];
}

export function printJson(io: Io, value: unknown): void {
  io.stdout(JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
}
