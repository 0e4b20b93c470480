import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePorts } from '../node/local-alliance.js';
import { checkStepOutputs, markedBlocks, parseSteps, repositoryRoot, stepProgram, stepStartsMs } from './doc-script.js';

// docs/ALLIANCE.md, run as written on a fresh machine: every block marked
// `<!-- guide: alliance -->`, in order, in one bash — install (make install,
// from the release tarball, offline, with an empty npm cache), keys, CA root,
// genesis, three nodes on one machine, a fourth admitted later. Only what the
// guide names as examples changes: its ports (each replaced by a free one) and
// the places a fresh machine has (HOME, and make install's PREFIX and
// RELEASE_DIR in a temporary folder). Every node the guide starts is in the
// script's process group, stopped at the end whatever happened.

const version = (JSON.parse(readFileSync(join(repositoryRoot, 'package.json'), 'utf8')) as { version: string }).version;
/** The ports docs/ALLIANCE.md's table names as examples. */
const examplePorts = [7400, 7410, 7420, 7430].flatMap((base) => [base, base + 1, base + 2, base + 3]).concat([9464, 9465, 9466, 9467]);
/** A guide that hangs (a node that never serves) fails here instead of at vitest's timeout, with what it printed. */
const guideRunMsMax = 400_000;

const machine = mkdtempSync(join(tmpdir(), 'tongxing-guide-'));
let group: number | undefined;

afterAll(async () => {
  if (group !== undefined) await stopGroup(group);
  rmSync(machine, { recursive: true, force: true });
});

/** SIGTERM to every process of the group (the nodes stop cleanly), SIGKILL to any left after 20 s. */
async function stopGroup(pgid: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(-pgid, 'SIGTERM');
  for (let waited = 0; alive() && waited < 20_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
  if (alive()) process.kill(-pgid, 'SIGKILL');
}

function run(program: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', program], { cwd: repositoryRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    group = child.pid;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => void stopGroup(child.pid!), guideRunMsMax);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('docs/ALLIANCE.md on a fresh machine', () => {
  it('installs the CLI offline from the release tarball and founds and grows an alliance with exactly the guide\'s commands', async () => {
    const home = join(machine, 'home');
    const prefix = join(machine, 'prefix');
    const release = join(machine, 'release');
    mkdirSync(home);
    const ports = await freePorts(examplePorts.length);
    const free = new Map(examplePorts.map((port, i) => [String(port), String(ports[i])]));
    const steps = parseSteps(markedBlocks('docs/ALLIANCE.md', 'guide: alliance').join('\n')).map((step) => ({
      command: step.command.replace(/\b(74[0-3][0-3]|946[4-7])\b/g, (port) => free.get(port) ?? port),
      expected: step.expected.map((line) => line.replace(/\b(74[0-3][0-3]|946[4-7])\b/g, (port) => free.get(port) ?? port)),
    }));
    const env: NodeJS.ProcessEnv = {
      PATH: [join(prefix, 'bin'), dirname(process.execPath), process.env.PATH].join(delimiter),
      HOME: home,
      LANG: 'C.UTF-8',
      PREFIX: prefix,
      RELEASE_DIR: release,
      npm_config_cache: join(machine, 'npm-cache'), // empty: the tarball alone must suffice
    };

    const startedMs = Date.now();
    const result = await run(stepProgram(steps), env);
    const say = `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
    expect(result.code, say).toBe(0);
    checkStepOutputs(steps, result.stdout);
    const starts = [...stepStartsMs(result.stdout), Date.now()];
    const slowest = steps.map((step, i) => ({ step: step.command.split('\n')[0]!.slice(0, 60), s: (starts[i + 1]! - starts[i]!) / 1000 })).sort((a, b) => b.s - a.s).slice(0, 4);
    console.log(`alliance guide: ${steps.length} steps in ${((Date.now() - startedMs) / 1000).toFixed(1)} s; slowest: ${slowest.map((x) => `${x.s.toFixed(1)} s ${x.step}`).join(' | ')}`);

    // The install the guide names: the tarball's name, the command on PREFIX's PATH, and what the tarball holds.
    const tarball = join(release, `tongxing-${version}.tgz`);
    expect(existsSync(tarball)).toBe(true);
    expect(readFileSync(join(repositoryRoot, 'docs/ALLIANCE.md'), 'utf8')).toContain(`release/tongxing-${version}.tgz`);
    expect(execFileSync(join(prefix, 'bin', 'tongxing'), ['--version'], { cwd: machine, env, encoding: 'utf8' })).toBe(`tongxing ${version}\n`);
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).split('\n');
    expect(files).toContain('package/bin/tongxing.js');
    expect(files).toContain('package/dist/node/cli/main.js');
    expect(files.some((f) => f.startsWith('package/node_modules/level/'))).toBe(true);
    const own = files.filter((f) => !f.startsWith('package/node_modules/'));
    expect(own.filter((f) => /^package\/(node|federation|gen|proto|test|bench|simulations|dist\/bench|dist\/simulations)\/|\.map$/.test(f))).toEqual([]); // only what runs
    expect(files.filter((f) => /^package\/node_modules\/(vitest|typescript|tsx|ts-proto|@bufbuild\/buf)\//.test(f))).toEqual([]); // no dev tools
  }, guideRunMsMax + 60_000);
});
