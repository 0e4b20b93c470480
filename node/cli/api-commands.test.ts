import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, nodeIdOf, type Sm2KeyPair } from '../../federation/crypto/sm2.js';
import { Membership, type Member } from '../../federation/membership.js';
import { Replica } from '../../federation/replica.js';
import { MemoryStore } from '../../federation/store/memory.js';
import { Bus } from '../../federation/testing/bus.js';
import { usccFor } from '../../federation/testing/records.js';
import { startTestApi } from '../access/testing.js';
import type { Io } from './command.js';
import { main } from './main.js';
import { Prng } from '../../federation/testing/prng.js';

// The entity, sanction and node-status commands, run in-process through
// main() against a real API server on 127.0.0.1: exit codes, text and --json.

const allianceId = Buffer.alloc(32, 0x3c);
const freshnessBudgetMs = 30_000;
const startMs = Date.UTC(2025, 5, 1, 2, 0, 0); // 2025-06-01 10:00 +08:00

let cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  const pending = cleanups.reverse();
  cleanups = [];
  for (const cleanup of pending) await cleanup();
});

let keys: Sm2KeyPair[];
beforeAll(() => {
  keys = [generateKeyPair(), generateKeyPair()];
});

/**
 * A Kunming node serving the client API; with `withSilentPeer`, the alliance
 * also has Guiyang, which is never heard from (so every check is unknown-stale).
 */
async function startNode(withSilentPeer = false): Promise<{ address: string; clock: { now: number } }> {
  const cities = withSilentPeer ? ['Kunming', 'Guiyang'] : ['Kunming'];
  const members: Member[] = cities.map((city, i) => ({
    nodeId: nodeIdOf(keys[i]!.publicKey),
    publicKey: keys[i]!.publicKey,
    city,
    regionCode: i === 0 ? '530100' : '520100',
    endpoints: [],
  }));
  const clock = { now: startMs, nowMs: () => clock.now };
  const replica = await Replica.open(
    { allianceId, keyPair: keys[0]!, members: new Membership(members) },
    { store: new MemoryStore(), transport: new Bus().transport(members[0]!.nodeId), clock, random: new Prng('test').random() }, // alone: no peer answers
  );
  cleanups.push(() => replica.close());
  const server = await startTestApi({ replica, clock, freshnessBudgetMs, city: 'Kunming', allianceId, startedAtMs: startMs });
  cleanups.push(() => server.stop());
  return { address: `127.0.0.1:${server.port}`, clock };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as the one JSON object --json prints. */
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function tongxing(...argv: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    stdoutBytes: (bytes) => (stdout += Buffer.from(bytes).toString()),
  };
  const code = await main(argv, io);
  return {
    code,
    stdout,
    stderr,
    json: () => {
      expect(stdout.trim().split('\n')).toHaveLength(1);
      return JSON.parse(stdout);
    },
  };
}

const uscc = usccFor(101);
const sanctionArgs = ['--id', 'KM-2025-001', '--uscc', uscc, '--grounds', 'Bid rigging in a public works tender', '--authority', 'Kunming DRC', '--document', 'KDRC[2025]7', '--from', '2025-01-01', '--category', 'collusion', '--scope', 'works,goods'];

describe('tongxing entity', () => {
  it('registers and shows an entity; a second registration is refused', async () => {
    const { address } = await startNode();

    const registered = await tongxing('entity', 'register', '--node', address, '--uscc', uscc, '--name', 'Dianchi Construction Co.', '--role', 'bidder', '--role', 'agency', '--json');
    expect(registered.code).toBe(0);
    expect(registered.json()).toMatchObject({ uscc, legalName: 'Dianchi Construction Co.', provenance: { authorCity: 'Kunming', seq: 1, atMs: startMs } });

    const shown = await tongxing('entity', 'show', uscc, '--node', address, '--json');
    expect(shown.code).toBe(0);
    expect(shown.json()).toMatchObject({
      uscc,
      found: true,
      profile: { uscc, legalName: 'Dianchi Construction Co.', roles: ['LEGAL_ROLE_BIDDER', 'LEGAL_ROLE_AGENCY'], regionCode: '530100' },
      home: { authorCity: 'Kunming', seq: 1 },
      observations: [],
    });

    const text = await tongxing('entity', 'show', uscc, '--node', address);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('Dianchi Construction Co.');
    expect(text.stdout).toMatch(/roles: +bidder, agency/);
    expect(text.stdout).toMatch(/home node: +Kunming \([0-9a-f]{12}\), log seq 1, 2025-06-01 10:00:00 \+08:00/);

    const again = await tongxing('entity', 'register', '--node', address, '--uscc', uscc, '--name', 'Another Name Co.');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(new RegExp(`^tongxing: node at ${address.replace(/\./g, '\\.')}: ALREADY_EXISTS: profile\\.uscc: `));
  });

  it('updates an entity: the fields given replace those the node has, the rest kept; a whole profile from a file', async () => {
    const { address, clock } = await startNode();
    await tongxing('entity', 'register', '--node', address, '--uscc', uscc, '--name', 'Dianchi Construction Co.', '--role', 'bidder', '--representative', 'Li Wei');
    const refused = await tongxing('entity', 'register', '--node', address, '--uscc', uscc, '--name', 'Dianchi Construction Group');
    expect(refused.stderr).toMatch(/change its profile with UpdateEntity \(tongxing entity update\)/);

    clock.now += 60_000;
    const updated = await tongxing('entity', 'update', uscc, '--node', address, '--name', 'Dianchi Construction Group');
    expect(updated).toMatchObject({ code: 0, stdout: expect.stringMatching(/^updated .* \(Dianchi Construction Group\): profile stated at Kunming \([0-9a-f]{12}\), log seq 2/) });
    const shown = await tongxing('entity', 'show', uscc, '--node', address, '--json');
    expect(shown.json()).toMatchObject({ profile: { legalName: 'Dianchi Construction Group', roles: ['LEGAL_ROLE_BIDDER'], legalRepresentative: 'Li Wei' }, home: { seq: 1 }, latest: { seq: 2 } });
    expect((await tongxing('entity', 'show', uscc, '--node', address)).stdout).toMatch(/profile from: +update at Kunming .*log seq 2/);

    // The same again writes nothing and answers where the profile was stated.
    expect((await tongxing('entity', 'update', uscc, '--node', address, '--name', 'Dianchi Construction Group', '--json')).json()).toMatchObject({ provenance: { seq: 2 } });

    const dir = await mkdtemp(join(tmpdir(), 'tongxing-cli-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'profile.json');
    await writeFile(file, JSON.stringify({ uscc, legalName: 'Dianchi Group', roles: ['LEGAL_ROLE_TENDERER'], regionCode: '530100' }));
    expect((await tongxing('entity', 'update', '--file', file, '--node', address, '--json')).json()).toMatchObject({ legalName: 'Dianchi Group', provenance: { seq: 3 } });
    const whole = (await tongxing('entity', 'show', uscc, '--node', address, '--json')).json();
    expect(whole).toMatchObject({ profile: { legalName: 'Dianchi Group', roles: ['LEGAL_ROLE_TENDERER'] } });
    expect(whole.profile).not.toHaveProperty('legalRepresentative'); // the file's profile is the whole profile

    expect(await tongxing('entity', 'update', usccFor(102), '--node', address, '--name', 'X')).toMatchObject({ code: 1, stderr: expect.stringMatching(/is not registered at any member .*tongxing entity register/) });
    expect(await tongxing('entity', 'update', uscc, '--node', address)).toMatchObject({ code: 2, stderr: expect.stringMatching(/nothing to change/) });
    expect(await tongxing('entity', 'update', uscc, '--file', file, '--node', address)).toMatchObject({ code: 2, stderr: expect.stringMatching(/give USCC or --file, not both/) });
    expect(await tongxing('entity', 'update', '--file', file, '--name', 'Y', '--node', address)).toMatchObject({ code: 2, stderr: expect.stringMatching(/--file replaces --name/) });
  });

  it('exits 1 for an unknown entity and 2 for an invalid code', async () => {
    const { address } = await startNode();

    const missing = await tongxing('entity', 'show', usccFor(102), '--node', address, '--json');
    expect(missing.code).toBe(1);
    expect(missing.json()).toEqual({ uscc: usccFor(102), found: false });
    expect((await tongxing('entity', 'show', usccFor(102), '--node', address)).stdout).toMatch(/not registered/);

    const invalid = await tongxing('entity', 'register', '--node', address, '--uscc', '91350100M000100Y44', '--name', 'X Co.', '--json');
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/INVALID_ARGUMENT: profile\.uscc: check character \(position 18\)/);
    expect(invalid.json()).toMatchObject({ error: { code: 'INVALID_ARGUMENT', node: address } });
  });

  it('registers from a proto JSON file with snake_case keys', async () => {
    const { address } = await startNode();
    const dir = await mkdtemp(join(tmpdir(), 'tongxing-cli-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'profile.json');
    await writeFile(file, JSON.stringify({ uscc, legal_name: 'File Co.', roles: ['LEGAL_ROLE_TENDERER'], region_code: '530100' }));

    const registered = await tongxing('entity', 'register', '--node', address, '--file', file, '--json');
    expect(registered.code).toBe(0);
    expect(registered.json()).toMatchObject({ uscc, legalName: 'File Co.' });

    await writeFile(file, '[1, 2]');
    const notObject = await tongxing('entity', 'register', '--node', address, '--file', file);
    expect(notObject.code).toBe(2);
    expect(notObject.stderr).toMatch(/must hold one JSON object/);

    const both = await tongxing('entity', 'register', '--node', address, '--file', file, '--uscc', uscc);
    expect(both.code).toBe(2);
  });
});

describe('tongxing sanction', () => {
  it('issue, check (restricted), lift, check (clear), as-of check (restricted)', async () => {
    const { address, clock } = await startNode();
    await tongxing('entity', 'register', '--node', address, '--uscc', uscc, '--name', 'Dianchi Construction Co.');

    const issued = await tongxing('sanction', 'issue', '--node', address, ...sanctionArgs, '--json');
    expect(issued.code).toBe(0);
    expect(issued.json()).toMatchObject({ sanctionId: 'KM-2025-001', provenance: { authorCity: 'Kunming', seq: 2 } });

    const duplicate = await tongxing('sanction', 'issue', '--node', address, ...sanctionArgs);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toMatch(/ALREADY_EXISTS: sanction\.sanctionId: /);

    const restricted = await tongxing('sanction', 'check', uscc, '--node', address, '--json');
    expect(restricted.code).toBe(1);
    const answer = restricted.json();
    expect(answer).toMatchObject({ uscc, verdict: 'restricted', atMs: startMs, freshnessBudgetMs, staleMembers: [] });
    expect(answer.sanctions).toHaveLength(1);
    expect(answer.sanctions[0]).toMatchObject({
      issuerCity: 'Kunming',
      quarantined: false,
      sanction: {
        sanctionId: 'KM-2025-001',
        subject: { uscc, name: 'Dianchi Construction Co.' }, // taken from the node's registration
        listType: 'LIST_TYPE_SERIOUS_DISHONESTY',
        groundsCategory: 'GROUNDS_CATEGORY_COLLUSION',
        restriction: 'RESTRICTION_BAN',
        scope: ['works', 'goods'],
        restrictionPeriod: { fromMs: String(Date.parse('2025-01-01T00:00:00+08:00')), untilMs: String(Date.parse('2025-01-01T00:00:00+08:00') + 365 * 86_400_000) },
      },
    });
    expect(answer.freshness).toEqual([{ nodeId: expect.stringMatching(/^[0-9a-f]{64}$/), city: 'Kunming', seq: 2, ageMs: 0, stale: false }]);

    const text = await tongxing('sanction', 'check', uscc, '--node', address);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/RESTRICTED at 2025-06-01 10:00:00 \+08:00: 1 active sanction/);
    expect(text.stdout).toMatch(/Kunming: serious dishonesty list \(严重失信\), ban from 2025-01-01 until 2026-01-01/);
    expect(text.stdout).toContain('grounds (collusion): Bid rigging in a public works tender');
    expect(text.stdout).toContain('Kunming: 0 ms old');

    clock.now += 60_000;
    const lifted = await tongxing('sanction', 'lift', 'KM-2025-001', '--node', address, '--reason', 'appeal', '--json');
    expect(lifted.code).toBe(0);
    expect(lifted.json()).toMatchObject({ sanctionId: 'KM-2025-001', provenance: { seq: 3 } });

    const clear = await tongxing('sanction', 'check', uscc, '--node', address);
    expect(clear.code).toBe(0);
    expect(clear.stdout).toMatch(/CLEAR at 2025-06-01 10:01:00 \+08:00/);

    const asOf = await tongxing('sanction', 'check', uscc, '--node', address, '--at', '2025-03-01T09:30:00+08:00', '--json');
    expect(asOf.code).toBe(1);
    expect(asOf.json()).toMatchObject({ verdict: 'restricted', atMs: Date.parse('2025-03-01T01:30:00Z') });

    const liftAgain = await tongxing('sanction', 'lift', 'KM-2025-001', '--node', address);
    expect(liftAgain.code).toBe(1);
    expect(liftAgain.stderr).toMatch(/FAILED_PRECONDITION: lift\.sanctionId: .*already lifted/);
    const liftUnknown = await tongxing('sanction', 'lift', 'NO-SUCH', '--node', address, '--json');
    expect(liftUnknown.code).toBe(1);
    expect(liftUnknown.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('needs --name for an entity the node does not know (the node\'s rule, named by field)', async () => {
    const { address } = await startNode();
    const unnamed = await tongxing('sanction', 'issue', '--node', address, ...sanctionArgs);
    expect(unnamed.code).toBe(2);
    expect(unnamed.stderr).toMatch(/INVALID_ARGUMENT: sanction\.subject\.name: missing: .* is not registered at any member this node has heard from, so its name \(BODY_NAME\) must be given/);

    const named = await tongxing('sanction', 'issue', '--node', address, ...sanctionArgs, '--name', 'Dianchi Construction Co.', '--json');
    expect(named.code).toBe(0);
    expect(named.json()).toMatchObject({ subjectName: 'Dianchi Construction Co.' });
  });

  it('fails closed when a member is stale, and says which', async () => {
    const { address } = await startNode(true);

    const stale = await tongxing('sanction', 'check', uscc, '--node', address, '--json');
    expect(stale.code).toBe(1);
    expect(stale.json()).toMatchObject({ verdict: 'unknown-stale', sanctions: [], staleMembers: ['Guiyang'] });
    expect(stale.json().freshness).toContainEqual(expect.objectContaining({ city: 'Guiyang', ageMs: null, stale: true }));

    const text = await tongxing('sanction', 'check', uscc, '--node', address);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/UNKNOWN at .*: no active sanction is recorded here, but the data of Guiyang \(never heard from\) is older than the freshness budget \(30\.0 s\)/);
    expect(text.stdout).toContain('fails closed');
    expect(text.stdout).toMatch(/Guiyang: never heard from, log seq 0 {2}STALE/);
  });

  it('exits 2 on bad input: invalid code, bad time, bad choice', async () => {
    const { address } = await startNode();
    const invalid = await tongxing('sanction', 'check', '91350100M000100Y4', '--node', address);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/^tongxing: node at .*: INVALID_ARGUMENT: uscc: has 17 characters/);

    const badTime = await tongxing('sanction', 'check', uscc, '--node', address, '--at', '2025-03-01 09:30');
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toMatch(/--at must be a date/);
    // An impossible date is refused, not rolled over to 2 March (issue 12).
    const impossible = await tongxing('sanction', 'issue', '--node', address, ...sanctionArgs, '--until', '2026-02-30');
    expect(impossible.code).toBe(2);
    expect(impossible.stderr).toMatch(/--until: "2026-02-30" is not a calendar date: February 2026 has 28 days/);

    const badList = await tongxing('sanction', 'issue', '--node', address, ...sanctionArgs, '--list', 'blacklist');
    expect(badList.code).toBe(2);
    expect(badList.stderr).toMatch(/--list must be one of serious-dishonesty, bad-behaviour, watch/);

    const missing = await tongxing('sanction', 'issue', '--node', address, '--id', 'X');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--uscc is required/);
  });
});

describe('tongxing node status', () => {
  it('prints the members as JSON and as a table', async () => {
    const { address, clock } = await startNode(true);
    await tongxing('entity', 'register', '--node', address, '--uscc', uscc, '--name', 'Dianchi Construction Co.');
    clock.now += 1500;

    const json = await tongxing('node', 'status', '--node', address, '--json');
    expect(json.code).toBe(0);
    const status = json.json();
    expect(status).toMatchObject({ city: 'Kunming', allianceId: allianceId.toString('hex'), uptimeMs: 1500, entriesStored: 1 });
    expect(status.members).toEqual([
      expect.objectContaining({ city: 'Kunming', storedSeq: 1, knownSeq: 1, behindBy: 0, headAgeMs: 1500, lastContactMs: null, equivocated: false, self: true }),
      expect.objectContaining({ city: 'Guiyang', storedSeq: 0, knownSeq: 0, behindBy: 0, headAgeMs: null, lastContactMs: null, equivocated: false, self: false }),
    ]);

    const table = await tongxing('node', 'status', '--node', address);
    expect(table.code).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(/^Kunming node [0-9a-f]{12}, alliance 3c3c3c3c3c3c, up 1\.5 s, 1 entries stored, 0 B on disk, ingesting 0\.0 entries\/s \(last minute\)$/);
    // Never heard from since start: stale now, as the sanctions check says (federation/freshness.ts).
    expect(lines[1]).toMatch(/^freshness budget 30\.0 s: 1 member\(s\) stale now, 0 breach\(es\) since start; link timeout 30\.0 s$/);
    expect(lines[3]).toMatch(/^city +node id +link +stored \/ known +lag +head age +breaches +flags$/);
    expect(table.stdout).toMatch(/\nKunming +[0-9a-f]{12} +- +1 \/ 1 +- +1\.5 s +0 +self\n/);
    expect(table.stdout).toMatch(/\nGuiyang +[0-9a-f]{12} +DOWN, never heard +0 \/ 0 +- +never heard +0 +STALE\n/);
  });

  it('reports an unreachable node and a malformed address', async () => {
    const { address } = await startNode();
    const port = Number(address.split(':')[1]);
    await cleanups.pop()!(); // stop the server: nothing listens there now

    const unreachable = await tongxing('node', 'status', '--node', `127.0.0.1:${port}`);
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toMatch(new RegExp(`^tongxing: node at 127\\.0\\.0\\.1:${port}: UNAVAILABLE: `));

    const malformed = await tongxing('node', 'status', '--node', 'localhost');
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/--node must be HOST:PORT/);
  });

  it('documents the default API address in every command’s help', async () => {
    for (const path of [['entity', 'register'], ['entity', 'show'], ['sanction', 'issue'], ['sanction', 'lift'], ['sanction', 'check'], ['node', 'status']]) {
      const help = await tongxing(...path, '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('--node HOST:PORT');
      expect(help.stdout).toContain('default 127.0.0.1:7401');
    }
  });
});
