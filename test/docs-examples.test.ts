import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCredential } from '../node/access/credential.js';
import { startLocalAlliance, type LocalAlliance } from '../node/local-alliance.js';

// The guides' command examples, run as written against a real node process
// (only the address changes): each `# ...` line after a command is its expected
// output, where `...` stands for anything.

const root = new URL('..', import.meta.url).pathname;
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

/** The fenced sh block after `<!-- example: NAME -->`. */
function example(doc: string, name: string): string {
  const after = readFileSync(join(root, doc), 'utf8').split(`<!-- example: ${name} -->`)[1];
  return /```sh\n([\s\S]*?)```/.exec(after ?? '')![1]!;
}

/** Runs each command of `script` in one bash, and checks the output of each against the `# ` lines after it. */
function runExample(script: string, http: string): void {
  const steps: Array<{ command: string; expected: string[] }> = [];
  for (const line of script.replace(/\\\n\s*/g, ' ').split('\n')) {
    if (line.startsWith('# ')) steps.at(-1)?.expected.push(line.slice(2).replace(/\s+\(HTTP \d+\)$/, ''));
    else if (line.trim() !== '') steps.push({ command: line.replaceAll('https://127.0.0.1:7403', http), expected: [] });
  }
  const marker = '@@tongxing-step@@';
  const program = [`tongxing() { node ${join(root, 'bin/tongxing.js')} "$@"; }`, 'set -e', ...steps.flatMap((s) => [`echo ${marker}`, s.command])].join('\n');
  const credential = join(alliance.cities[0]!.dataDir, 'admin.credential');
  const output = execFileSync('bash', ['-c', program], { cwd: work, env: { ...process.env, TONGXING_CREDENTIAL: credential }, encoding: 'utf8' });
  const outputs = output.split(`${marker}\n`).slice(1);
  steps.forEach((step, i) => {
    for (const expected of step.expected) {
      let at = 0;
      for (const fragment of expected.split('...')) {
        const found = outputs[i]!.indexOf(fragment, at);
        expect(found, `${step.command}\nprinted ${outputs[i]}\nexpected ${expected}`).toBeGreaterThanOrEqual(0);
        at = found + fragment.length;
      }
    }
  });
}

describe('guides run as written', () => {
  it('HTTP.md: a platform with mutual TLS checks; a token platform is refused a sanction naming the scope', () => {
    const http = readCredential(join(alliance.cities[0]!.dataDir, 'admin.credential')).http;
    runExample(example('docs/HTTP.md', 'access'), http);
  });
});
