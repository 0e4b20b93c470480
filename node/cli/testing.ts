import type { Io } from './command.js';
import { main } from './main.js';

// Tests run the CLI in-process, as `tongxing ARGS...` would, and read what it printed.

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function tongxing(...argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { stdout: (t) => out.push(t), stderr: (t) => err.push(t), stdoutBytes: () => {} };
  const code = await main(argv, io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** stdout of a command that must succeed; otherwise an error with what it printed. */
export async function ok(...argv: string[]): Promise<string> {
  const result = await tongxing(...argv);
  if (result.code !== 0) throw new Error(`tongxing ${argv.join(' ')} exited ${result.code}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}
