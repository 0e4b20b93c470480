import { describe, expect, it } from 'vitest';
import { exitNegative, exitOk, exitUsage, type Io } from './command.js';
import { main } from './main.js';

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    stdoutBytes: (bytes) => (stdout += Buffer.from(bytes).toString('utf8')),
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

describe('tongxing uscc check', () => {
  it('exits 0 for a valid code and prints what it means', async () => {
    const { code, stdout, stderr } = await run('uscc', 'check', '91350100M000100Y43');
    expect(code).toBe(exitOk);
    expect(stderr).toBe('');
    expect(stdout).toContain('valid: 91350100M000100Y43');
    expect(stdout).toMatch(/registration authority: +9 market regulation \(市场监管（工商）\)/);
    expect(stdout).toMatch(/category: +1 enterprise \(企业\)/);
    expect(stdout).toMatch(/region code: +350100/);
    expect(stdout).toMatch(/organisation code: +M000100Y4/);
  });

  it('exits 1 for an invalid code with the reason and the expected check character', async () => {
    const { code, stdout } = await run('uscc', 'check', '91350211M00013FA1N');
    expect(code).toBe(exitNegative);
    expect(stdout).toContain('invalid: "91350211M00013FA1N"');
    expect(stdout).toContain("reason: check character (position 18) is 'N', expected '3'");
    expect(stdout).toContain('expected check character: 3');
    expect(stdout).toContain('recorded override');
  });

  it('exits 1 for lowercase, saying so', async () => {
    const { code, stdout } = await run('uscc', 'check', '91350100m000100y43');
    expect(code).toBe(exitNegative);
    expect(stdout).toContain('lowercase');
    expect(stdout).not.toContain('expected check character');
  });

  // 515300005015170400: synthetic 民政 social organisation code (check characters computed).
  it('prints one JSON object with --json (valid)', async () => {
    const { code, stdout } = await run('uscc', 'check', '--json', '515300005015170400');
    const parsed = JSON.parse(stdout) as Record<string, unknown>;
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(parsed).toMatchObject({ valid: true, code: '515300005015170400', regionCode: '530000' });
    expect(parsed.authority).toMatchObject({ code: '5', name: 'civil affairs' });
    expect(parsed.category).toMatchObject({ code: '1', name: 'social organisation' });
    expect(code).toBe(exitOk);
  });

  it('prints one JSON object with --json (invalid)', async () => {
    const { code, stdout } = await run('uscc', 'check', '91350211M00013FA1N', '--json');
    expect(code).toBe(exitNegative);
    expect(JSON.parse(stdout)).toEqual({
      code: '91350211M00013FA1N',
      valid: false,
      reason: "check character (position 18) is 'N', expected '3'",
      field: 'check',
      position: 18,
      expectedCheck: '3',
      overridable: true,
    });
  });

  it.each([
    ['no code', []],
    ['two codes', ['91350100M000100Y43', '91110000600037341L']],
    ['an empty code', ['']],
    ['an unknown option', ['--verbose', '91350100M000100Y43']],
  ])('exits 2 on usage errors: %s', async (_name, rest) => {
    const { code, stderr, stdout } = await run('uscc', 'check', ...rest);
    expect(code).toBe(exitUsage);
    expect(stderr).toContain('Usage: tongxing uscc check CODE [--json]');
    expect(stdout).toBe('');
  });

  it('shows help with --help', async () => {
    const { code, stdout } = await run('uscc', 'check', '--help');
    expect(code).toBe(exitOk);
    expect(stdout).toContain('Exit: 0 valid, 1 invalid');
  });
});
