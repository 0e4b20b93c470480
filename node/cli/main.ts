import { TongxingError } from '../../federation/errors.js';
import { packageVersion } from '../api/openapi.js';
import { exitOk, exitUsage, parse, processIo, UsageError, type Command, type Io } from './command.js';
import { commands } from './commands.js';

function overview(): string {
  const width = Math.max(...commands.map((c) => c.path.join(' ').length));
  const lines = commands.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  return [
    'tongxing: federated data-sharing node for public resource trading centers',
    '',
    'Usage: tongxing <command> [options]    (every command takes --help; tongxing --version)',
    '',
    'Commands:',
    ...lines,
    '',
    'Exit codes: 0 ok, 1 negative answer (invalid, refused, sanctioned), 2 bad input or usage, or no answer from the node.',
    '',
  ].join('\n');
}

/** The longest command path that prefixes argv. */
function find(argv: string[]): { command: Command; rest: string[] } | undefined {
  let best: Command | undefined;
  for (const command of commands) {
    const matches = command.path.every((word, i) => argv[i] === word);
    if (matches && (!best || command.path.length > best.path.length)) best = command;
  }
  return best && { command: best, rest: argv.slice(best.path.length) };
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version')) {
    io.stdout(`tongxing ${packageVersion()}\n`);
    return exitOk;
  }
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout(overview());
    return argv.length === 0 ? exitUsage : exitOk;
  }
  const found = find(argv);
  if (!found) {
    const group = commands.filter((c) => c.path[0] === argv[0]);
    if (group.length > 0 && (argv.length === 1 || argv[1] === '--help' || argv[1] === '-h')) {
      io.stdout(group.map((c) => `  tongxing ${c.path.join(' ')}  ${c.summary}`).join('\n') + '\n');
      return argv.length === 1 ? exitUsage : exitOk;
    }
    io.stderr(`tongxing: unknown command '${argv.join(' ')}'\n\n${overview()}`);
    return exitUsage;
  }
  const { command, rest } = found;
  const usage = `Usage: tongxing ${command.path.join(' ')} ${command.usage}\n`;
  try {
    const args = parse(command, rest);
    if (args.values.help) {
      io.stdout(`${command.summary}\n\n${usage}`);
      return exitOk;
    }
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`tongxing ${command.path.join(' ')}: ${(error as Error).message}\n${usage}`);
      return exitUsage;
    }
    if (error instanceof TongxingError || (error as NodeJS.ErrnoException).code === 'ENOENT') {
      io.stderr(`tongxing ${command.path.join(' ')}: ${(error as Error).message}\n`);
      return exitUsage;
    }
    throw error;
  }
}
