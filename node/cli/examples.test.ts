import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, openssl, opensslIssue, type TempDir } from '../../federation/crypto/testing/openssl.js';
import { signedGenesis, testCity, type TestCity } from '../../federation/governance/testing.js';
import { converged, startCities, tongxing, type Cities } from './testing-cities.js';

// docs/IMPORTS.md, run as written: its "Try it" commands import every example
// file under deploy/examples/ through the real CLI into a real in-process
// node (two cities on 127.0.0.1, founded by a genesis that trusts the
// example's root CA), export each kind, and import the exports back; each
// command must print what the doc says it prints. Then the refusals the doc
// promises: per-row errors naming the row and field, nothing written.

const repo = join(import.meta.dirname, '..', '..');
const examples = join(repo, 'deploy', 'examples');

let dir: TempDir;
let founders: TestCity[];
let allianceId: Buffer;
let rootDer: Uint8Array;

beforeAll(() => {
  dir = makeTempDir('tongxing-examples-');
  rootDer = new Uint8Array(openssl(['x509', '-in', join(examples, 'certificates', 'ca', 'root.pem'), '-outform', 'DER']));
  founders = [testCity('Kunming'), testCity('Guiyang')];
  allianceId = signedGenesis(founders, (body) => (body.trustedCaRoots = [Buffer.from(rootDer)])).verified.allianceId;
});
afterAll(() => dir.remove());

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  const pending = cleanups.reverse();
  cleanups = [];
  for (const cleanup of pending) await cleanup();
});

/** The commands of the "Try it" block, each with the lines the doc says it prints; `mkdir -p out` is the only other command it may hold. */
function tryItCommands(): Array<{ argv: string[]; prints: string[] }> {
  const doc = readFileSync(join(repo, 'docs', 'IMPORTS.md'), 'utf8');
  const block = /## Try it[\s\S]*?```sh\n([\s\S]*?)```/.exec(doc)?.[1];
  expect(block, 'docs/IMPORTS.md has a "Try it" sh block').toBeDefined();
  const commands: Array<{ argv: string[]; prints: string[] }> = [];
  for (const line of block!.split('\n')) {
    if (line.startsWith('tongxing ')) commands.push({ argv: line.slice('tongxing '.length).split(/\s+/), prints: [] });
    else if (line.startsWith('# ')) commands[commands.length - 1]!.prints.push(line.slice(2));
    else if (line === 'mkdir -p out') commands.push({ argv: ['mkdir'], prints: [] });
    else expect(line, 'a line of the "Try it" block the test cannot run').toBe('');
  }
  return commands;
}

const entryCount = (cities: Cities) => cities.replicas[0]!.logs().reduce((sum, log) => sum + log.storedSeq, 0);

describe('docs/IMPORTS.md', () => {
  it('its commands import every example, export each kind and import the exports back unchanged, printing what it says', async () => {
    const cities = await startCities(founders, allianceId, rootDer, cleanups);
    const [kunming, guiyang] = cities.addresses as [string, string];
    const out = dir.file('out');
    const commands = tryItCommands();
    expect(commands.length).toBeGreaterThanOrEqual(14);
    for (const { argv, prints } of commands) {
      if (argv[0] === 'mkdir') {
        mkdirSync(out, { recursive: true });
        continue;
      }
      const args = argv.map((a) => a.replace(/^out\//, `${out}/`).replace(/^deploy\//, `${repo}/deploy/`));
      const run = await tongxing(...args, '--api', kunming);
      expect(run.code, `tongxing ${argv.join(' ')}: ${run.stderr}${run.stdout}`).toBe(0);
      for (const line of prints) expect(run.stdout, `tongxing ${argv.join(' ')}`).toContain(line.replaceAll('out/', `${out}/`));
    }
    await converged(cities);

    // Every kind reached the other city: the certificates log in there, the CRL counts, the experts are known by ref only.
    const shown = await tongxing('cert', 'show', join(examples, 'certificates', 'certs', 'dianchi.pem'), '--node', guiyang, '--json');
    expect(shown.json()).toMatchObject({ found: true, status: 'valid', holder: { uscc: '91530100MA6K3Q7D46', name: '云南滇池建设工程有限公司' }, recorded: { authorCity: 'Kunming' } });
    const exportedExperts = JSON.parse(readFileSync(join(out, 'experts.json'), 'utf8')) as Array<Record<string, unknown>>;
    expect(exportedExperts.map((e) => [e.ID_CARD, e.EXPERT_NAME, e.TX_HOME_CITY])).toEqual(expect.arrayContaining([['530102197503120412', '张国强', 'Kunming'], ['530111198209070267', '刘芳', 'Kunming']]));
    const elsewhere = await tongxing('export', 'experts', '--api', guiyang);
    const seen = JSON.parse(elsewhere.stdout) as Array<Record<string, unknown>>;
    expect(seen).toHaveLength(2);
    expect(JSON.stringify(seen)).not.toMatch(/530102197503120412|张国强|13888123456/);
    const personalElsewhere = await tongxing('export', 'experts', '--personal', '--api', guiyang);
    expect(JSON.stringify(JSON.parse(personalElsewhere.stdout))).not.toMatch(/530102197503120412/);
    const manifest = JSON.parse(readFileSync(join(out, 'certificates', 'manifest.json'), 'utf8')) as Array<Record<string, unknown>>;
    expect(manifest.map((r) => r.LEGAL_CODE).sort()).toEqual(['91530100216530123R', '91530100MA6K3Q7D46', '91530100MA6N0B2CXQ']);
    expect(manifest.every((r) => r.TX_RECORDED_CITY === 'Kunming')).toBe(true);
  });

  it('refuses a certificate row for another holder, or one no manifest row names, naming the row or file and field; nothing is written', async () => {
    const cities = await startCities(founders, allianceId, rootDer, cleanups);
    const [kunming] = cities.addresses as [string];
    expect((await tongxing('import', 'certificates', join(examples, 'certificates'), '--api', kunming)).code).toBe(0);
    const before = entryCount(cities);

    const moved = dir.file('moved');
    cpSync(join(examples, 'certificates'), moved, { recursive: true });
    const rows = JSON.parse(readFileSync(join(moved, 'manifest.json'), 'utf8')) as Array<Record<string, unknown>>;
    rows[1]!.LEGAL_CODE = '91530100MA6P8RWX1W';
    writeFileSync(join(moved, 'manifest.json'), JSON.stringify(rows));
    const refused = await tongxing('import', 'certificates', moved, '--api', kunming, '--json');
    expect(refused.code).toBe(1);
    expect(refused.json().errors).toEqual([{ row: 1, field: 'LEGAL_CODE', reason: expect.stringMatching(/already recorded for entity 91530100MA6N0B2CXQ by Kunming/) }]);

    writeFileSync(join(moved, 'manifest.json'), JSON.stringify(rows.slice(0, 1)));
    const unnamed = await tongxing('import', 'certificates', moved, '--api', kunming);
    expect(unnamed.code).toBe(1);
    expect(unnamed.stdout).toMatch(/certs\/chuncheng\.cer, CERT_FILE: certificate serial [0-9a-f]+ \(".*昆明春城工程咨询有限公司"\) is named by no manifest row/);
    expect(entryCount(cities)).toBe(before);
  });

  it('refuses a certificate whose CA the alliance does not trust, and an expert row with a bad ID card, each by row and field', async () => {
    const other = opensslIssue(dir, 'other-root', { subject: '/C=CN/O=Another CA/CN=Another Root', profile: 'ca', days: 30 });
    const otherRoot = new Uint8Array(openssl(['x509', '-in', other.cert, '-outform', 'DER']));
    const cities = await startCities(founders, allianceId, otherRoot, cleanups);
    const [kunming] = cities.addresses as [string];
    const untrusted = await tongxing('import', 'certificates', join(examples, 'certificates'), '--api', kunming, '--json');
    expect(untrusted.code).toBe(1);
    const errors = untrusted.json().errors as Array<{ row?: number; file?: string; field: string; reason: string }>;
    expect(errors.filter((e) => e.row !== undefined).map((e) => [e.row, e.field])).toEqual([[0, 'CERT_FILE'], [1, 'CERT_FILE'], [2, 'CERT_FILE']]);
    expect(errors[0]!.reason).toMatch(/does not chain to a CA root the alliance trusts/);

    const experts = JSON.parse(readFileSync(join(examples, 'experts.json'), 'utf8')) as Array<Record<string, unknown>>;
    experts[1]!.ID_CARD = '530111198209070268';
    const file = dir.write('bad-experts.json', JSON.stringify(experts));
    const bad = await tongxing('import', 'experts', file, '--api', kunming);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^not imported: 1 problem\(s\); nothing was written/);
    expect(bad.stdout).toMatch(/row 1, ID_CARD: .*check/);
    expect(entryCount(cities)).toBe(0);
  });
});
