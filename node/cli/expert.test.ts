import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, nodeIdOf } from '../../federation/crypto/sm2.js';
import { makeTempDir, opensslIssue, type TempDir } from '../../federation/crypto/testing/openssl.js';
import { Membership } from '../../federation/membership.js';
import { Replica } from '../../federation/replica.js';
import { MemoryStore } from '../../federation/store/memory.js';
import { residentIdCheckCharacter } from '../../federation/experts/pseudonym.js';
import { usccFor } from '../../federation/testing/records.js';
import { startTestApi } from '../access/testing.js';
import type { Io } from './command.js';
import { main } from './main.js';
import { Prng } from '../../federation/testing/prng.js';

// `tongxing expert ...` and `tongxing evaluation ...` through main() against
// one Kunming node that hosts the session and is the home node of the experts.

const allianceId = Buffer.alloc(32, 0x4d);
let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

let dir: TempDir;
beforeAll(() => {
  dir = makeTempDir('tongxing-expert-cli-');
});
afterAll(() => dir.remove());

async function startNode(): Promise<string> {
  const key = generateKeyPair();
  const members = new Membership([{ nodeId: nodeIdOf(key.publicKey), publicKey: key.publicKey, city: 'Kunming', regionCode: '530100', endpoints: [] }]);
  const clock = { nowMs: () => Date.now() };
  const offline = { exchangeHeads: () => Promise.reject(new Error('offline')), pullEntries: () => { throw new Error('offline'); }, announce: () => undefined };
  const replica = await Replica.open({ allianceId, keyPair: key, members }, { store: new MemoryStore(), transport: offline, clock, random: new Prng('test').random() });
  cleanups.push(() => replica.close());
  const server = await startTestApi({ replica, clock, freshnessBudgetMs: 60_000, city: 'Kunming', allianceId, startedAtMs: Date.now() });
  cleanups.push(() => server.stop());
  return `127.0.0.1:${server.port}`;
}

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = { stdout: (t) => (out += t), stderr: (t) => (err += t), stdoutBytes: () => undefined };
  const code = await main(argv, io);
  return { code, out, err };
}

const idCards = ['53010219800101002X', '530102198502020035', '530102199003030041'];
/** The first 17 digits with their check character. */
const validId = (first17: string): string => first17 + residentIdCheckCharacter(first17);

describe('tongxing expert / evaluation', () => {
  it('registers experts, opens a session, draws, audits, scores and analyses', async () => {
    const node = await startNode();
    const day = 86_400_000;
    const slot = new Date(Date.now() + 2 * day);
    const date = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);
    const refs: string[] = [];
    for (const [i, card] of idCards.entries()) {
      const registered = await run('expert', 'register', '--node', node, '--json', '--id-card', validId(card.slice(0, 17)), '--name', `专家${i}`, '--phone', '13900000000', '--specialty', 'A0801', '--region', '530102');
      expect(registered.code, registered.err).toBe(0);
      const ref = JSON.parse(registered.out).expertRef as string;
      refs.push(ref);
      const available = await run('expert', 'availability', ref, '--node', node, '--window', `${date(Date.now())}/${date(Date.now() + 5 * day)}`);
      expect(available.code, available.err).toBe(0);
    }
    const shown = await run('expert', 'show', refs[0]!, '--node', node, '--personal');
    expect(shown.out).toMatch(/active, region 530102/);
    expect(shown.out).toMatch(/A0801 \(施工\)/);
    expect(shown.out).toMatch(/personal \(home node only\): 专家0/);

    const badCode = await run('expert', 'register', '--node', node, '--id-card', validId('53010219900101003'), '--name', 'x', '--specialty', 'A99', '--region', '530100');
    expect(badCode.code).toBe(2);
    expect(badCode.err).toMatch(/INVALID_ARGUMENT: profile\.specialtyCodes\[0\]: unknown specialty code "A99"/);

    const from = slot.toISOString().replace(/\.\d+Z$/, 'Z');
    const until = new Date(slot.getTime() + 4 * 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const bidders = [usccFor(101), usccFor(102), usccFor(103)];
    const created = await run('evaluation', 'create', '--node', node, '--id', 'KM-9', '--project', 'P-9', ...bidders.flatMap((b) => ['--bidder', b]), '--tenderer', usccFor(201), '--need', 'A08:3', '--from', from, '--until', until);
    expect(created.code, created.err).toBe(0);
    expect(created.out).toMatch(/seed commitment SM3 [0-9a-f]{64}/);

    const drawn = await run('evaluation', 'draw', 'KM-9', '--node', node);
    expect(drawn.code, drawn.err).toBe(0);
    expect(drawn.out).toMatch(/panel complete/);
    expect(drawn.out.match(/: granted/g)).toHaveLength(3);

    const audit = await run('expert', 'audit', 'KM-9', '--node', node);
    expect(audit.code, audit.out).toBe(0);
    expect(audit.out).toMatch(/MATCH/);

    // Experts sign with their own keys; only the signature and certificate reach the node.
    const ca = opensslIssue(dir, 'ca', { subject: '/C=CN/O=Test/CN=Expert CA', profile: 'ca', days: 30 });
    const points = [[90, 80, 70], [89, 81, 71], [60, 82, 70]];
    for (const [i, ref] of refs.entries()) {
      const issued = opensslIssue(dir, `e${i}`, { subject: `/C=CN/O=Test/CN=e${i}`, profile: 'leaf', days: 30, issuer: ca });
      expect(readFileSync(issued.key, 'utf8')).toMatch(/PRIVATE KEY/);
      const scored = await run('evaluation', 'score', 'KM-9', '--node', node, '--expert', ref, '--key', issued.key, '--cert', issued.cert, ...bidders.flatMap((b, j) => ['--score', `${b}=${points[i]![j]}`]));
      expect(scored.code, scored.err).toBe(0);
    }
    const analysis = await run('evaluation', 'analysis', 'KM-9', '--node', node);
    expect(analysis.code).toBe(1); // the third expert is flagged
    expect(analysis.out).toMatch(/FLAG .*\n.*scored .* 60 against a trimmed mean/);
    const json = JSON.parse((await run('evaluation', 'analysis', 'KM-9', '--node', node, '--json', '--deviation', '0.5', '--pairs', '5')).out);
    expect(json.experts.every((e: { flagged: boolean }) => !e.flagged)).toBe(true);

    const paused = await run('expert', 'status', refs[0]!, 'paused', '--node', node);
    expect(paused.code, paused.err).toBe(0);
    expect((await run('expert', 'show', refs[0]!, '--node', node)).out).toMatch(/: paused, region/);

    const session = await run('evaluation', 'show', 'KM-9', '--node', node);
    expect(session.out).toMatch(/score sheets: 3/);
    expect((await run('evaluation', 'show', 'KM-404', '--node', node)).code).toBe(1);
  });
});
