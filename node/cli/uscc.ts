import { checkUscc } from '../../federation/records/uscc.js';
import { exitNegative, exitOk, printJson, UsageError, type Command } from './command.js';

const check: Command = {
  path: ['uscc', 'check'],
  summary: 'Check a unified social credit code (GB 32100-2015) and decode it',
  usage: [
    'CODE [--json]',
    '',
    '  CODE    18 characters, upper case, exactly as issued (lowercase is refused, not folded)',
    '  --json  print one JSON object: {valid, code, authority, category, regionCode, organisationCode}',
    '          or {valid: false, code, reason, field, position, expectedCheck, overridable}',
    '',
    'Exit: 0 valid, 1 invalid (prints the reason and the expected check character), 2 usage.',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const code = args.positionals[0]!;
    if (code === '') throw new UsageError('CODE is empty');
    const result = checkUscc(code);
    if (args.values.json) {
      printJson(io, result.valid ? result : { code, ...result });
      return result.valid ? exitOk : exitNegative;
    }
    if (result.valid) {
      const { authority, category } = result;
      io.stdout(
        [
          `valid: ${code}`,
          `  registration authority: ${authority.code} ${authority.name} (${authority.nameZh})`,
          `  category:               ${category.code} ${category.name} (${category.nameZh})`,
          `  region code:            ${result.regionCode}`,
          `  organisation code:      ${result.organisationCode}`,
          '',
        ].join('\n'),
      );
      return exitOk;
    }
    // Quoted: the input may hold anything, including terminal control characters.
    const lines = [`invalid: ${JSON.stringify(code)}`, `  reason: ${result.reason}`];
    if (result.expectedCheck) lines.push(`  expected check character: ${result.expectedCheck}`);
    if (result.expectedOrganisationCheck) {
      lines.push(`  expected organisation code check character (position 17): ${result.expectedOrganisationCheck}`);
    }
    if (result.overridable) lines.push('  only check characters are wrong: a legacy code may be accepted with a recorded override');
    io.stdout(lines.join('\n') + '\n');
    return exitNegative;
  },
};

export const usccCommands: Command[] = [check];
