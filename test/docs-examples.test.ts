import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { readCredential } from '../node/access/credential.js';
import { startLocalAlliance, type LocalAlliance } from '../node/local-alliance.js';
import { checkStepOutputs, markedBlocks, parseSteps, repositoryRoot, stepProgram } from './doc-script.js';

// The guides' command examples, run as written against a real node process
// (only the address changes): each `# ...` line after a command is its expected
// output, where `...` stands for anything.

let alliance: LocalAlliance;
let work: string;

beforeAll(async () => {
  alliance = await startLocalAlliance({ cities: 1 });
  work = mkdtempSync(join(tmpdir(), 'tongxing-docs-'));
});
afterAll(async () => {
  await alliance?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Runs each command of `script` in one bash, and checks the output of each against the `# ` lines after it. */
function runExample(script: string, http: string): void {
  const steps = parseSteps(script).map((s) => ({
    command: s.command.replaceAll('https://127.0.0.1:7403', http),
    expected: s.expected.map((e) => e.replace(/\s+\(HTTP \d+\)$/, '')),
  }));
  const program = stepProgram(steps, [`tongxing() { node ${join(repositoryRoot, 'bin/tongxing.js')} "$@"; }`]);
  const credential = join(alliance.cities[0]!.dataDir, 'admin.credential');
  checkStepOutputs(steps, execFileSync('bash', ['-c', program], { cwd: work, env: { ...process.env, TONGXING_CREDENTIAL: credential }, encoding: 'utf8' }));
}

describe('guides run as written', () => {
  it('HTTP.md: a platform with mutual TLS checks; a token platform is refused a sanction naming the scope', () => {
    const http = readCredential(join(alliance.cities[0]!.dataDir, 'admin.credential')).http;
    runExample(markedBlocks('docs/HTTP.md', 'example: access').join('\n'), http);
  });

  it('HTTP.md: the operator console is served, and a token client signs in to it', () => {
    const http = readCredential(join(alliance.cities[0]!.dataDir, 'admin.credential')).http;
    runExample(markedBlocks('docs/HTTP.md', 'example: console').join('\n'), http);
  });
});
