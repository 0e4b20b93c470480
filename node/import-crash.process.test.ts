import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeEntry } from '../federation/log/entry.js';
import { entityToRow, sanctionToRow } from '../federation/records/dataspec.js';
import { eventually } from '../federation/testing/eventually.js';
import { Prng } from '../federation/testing/prng.js';
import { entityProfile, sanction, usccFor } from '../federation/testing/records.js';
import { connectApi, type ApiClient } from './api/client.js';
import { importCertificateAuthority } from './cli/testing-certificates.js';
import { startLocalAlliance, type LocalAlliance } from './local-alliance.js';
import { LevelStore } from './store/level.js';

// Issue 14: an import is all or nothing even when the importing node is
// killed (SIGKILL: nothing flushed, nothing closed) at a random moment of it.
// Two real node processes; the CLI runs as its own process, as an operator's
// would. After each kill and restart, the importing node's log holds the
// whole import or none of it, the other member never holds more of it than
// the importing node, and running the same file again completes it.

const seed = Number(process.env.TONGXING_CRASH_SEED ?? Date.now() % 1_000_000);
console.log(`import crash test: seed ${seed}; replay with TONGXING_CRASH_SEED=${seed} npx vitest run node/import-crash.process.test.ts`);
const prng = new Prng(seed);
const cli = fileURLToPath(new URL('../bin/tongxing.js', import.meta.url));
/** Rows per import of each kind (certificates cost a chain verification each). */
const rowsOf = { entities: 1500, sanctions: 1500, certificates: 300 } as const;
type Kind = keyof typeof rowsOf;
const kinds: Kind[] = ['entities', 'sanctions', 'certificates'];
const killsPerKind = 7;
const dayMs = 86_400_000;

let alliance: LocalAlliance | undefined;
const clients: ApiClient[] = [];
const children = new Set<ChildProcess>();

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const client of clients.splice(0)) client.close();
  await alliance?.stop();
});

function api(i: number): ApiClient {
  const client = connectApi(alliance!.cities[i]!.apiAddress);
  clients.push(client);
  return client;
}

/** `tongxing import KIND FILE --json` as a process; resolves with its exit code and stdout. */
function importProcess(kind: string, file: string): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string }> } {
  const child = spawn(process.execPath, [cli, 'import', kind, file, '--node', alliance!.cities[0]!.apiAddress, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.resume();
  const done = new Promise<{ code: number | null; stdout: string }>((resolve) => child.once('exit', (code) => (children.delete(child), resolve({ code, stdout }))));
  return { child, done };
}

/** How far member i holds the importing city's log. */
async function seqAt(i: number): Promise<bigint> {
  const status = await api(i).getStatus();
  return status.members.find((m) => Buffer.from(m.nodeId).toString('hex') === alliance!.cities[0]!.nodeId)!.storedSeq;
}

describe('imports under kill -9', () => {
  it(`leaves each import whole or absent at every member, whatever moment the importing node dies (${kinds.length * killsPerKind} kills)`, async () => {
    const ca = importCertificateAuthority('Crash Test SM2 Root CA');
    alliance = await startLocalAlliance({ cities: 2, trustedCaRoots: [ca.root] });
    // Entities registered by the first import hold the certificates.
    const registered = (i: number) => usccFor(i % rowsOf.entities);
    const fileFor = (kind: Kind, round: number): string => {
      const rows = rowsOf[kind];
      if (kind === 'certificates') return ca.folder(join(alliance!.dir, `certificates-${round}`), Array.from({ length: rows }, (_, i) => registered(i)));
      const file = join(alliance!.dir, `${kind}-${round}.json`);
      const row = (i: number) => (kind === 'entities' ? entityToRow(entityProfile(usccFor(round * rows + i))) : sanctionToRow(sanction(`CRASH-${round}-${i}`, registered(i), Date.now() - dayMs)));
      writeFileSync(file, JSON.stringify(Array.from({ length: rows }, (_, i) => row(i))));
      return file;
    };

    // One import of each kind left alone: how long one takes here, the window its kills fall in.
    const windowMs = {} as Record<Kind, number>;
    let expected = 0n;
    for (const kind of kinds) {
      const startedMs = Date.now();
      const run = await importProcess(kind, fileFor(kind, 0)).done;
      expect(run.code, run.stdout).toBe(0);
      windowMs[kind] = 1.5 * (Date.now() - startedMs);
      expected += BigInt(rowsOf[kind]);
    }
    await eventually('the member caught up', async () => (await seqAt(1)) === expected);

    const outcomes: string[] = [];
    for (let round = 1; round <= kinds.length * killsPerKind; round++) {
      const kind = kinds[round % kinds.length]!;
      const rows = BigInt(rowsOf[kind]);
      const file = fileFor(kind, round);
      const before = expected;
      const delayMs = Math.floor(prng.float() * windowMs[kind]);
      const running = importProcess(kind, file);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      await alliance.nodes[0]!.kill();
      running.child.kill('SIGKILL');
      await running.done;
      // While the importing node is down, the member may be part way through pulling an import the importing node holds whole.
      const atMember = await seqAt(1);
      expect(atMember >= before && atMember <= before + rows, `round ${round}: the member's copy ends at ${atMember}`).toBe(true);

      await alliance.start(0);
      const atImporter = await seqAt(0);
      expect([before, before + rows], `round ${round} (${kind}, killed after ${delayMs} ms): the importing node's log`).toContain(atImporter);
      // Any row of the import at the member means the importing node holds all of it.
      expect(atMember <= atImporter, `round ${round}: the member never holds rows the importing node does not`).toBe(true);
      const whole = atImporter === before + rows;
      outcomes.push(`${kind}:${whole ? 'whole' : 'absent'}`);

      // The same file again completes it: all created when it was absent, all unchanged when whole.
      const rerun = await importProcess(kind, file).done;
      expect(rerun.code, rerun.stdout).toBe(0);
      const report = JSON.parse(rerun.stdout) as { created: number; unchanged: number };
      expect(whole ? report.unchanged : report.created, `round ${round}: the re-run`).toBe(Number(rows));
      expected = before + rows;
      expect(await seqAt(0)).toBe(expected);
      await eventually(`round ${round}: the member caught up`, async () => (await seqAt(1)) === expected);
    }
    console.log(`import crash test: seed ${seed}, outcomes ${outcomes.join(' ')}`);

    // Byte-identical copies: the importing city's log and every view, at both members.
    await Promise.all(alliance.nodes.map((node) => node!.stop()));
    const stores = await Promise.all(alliance.cities.map((city) => LevelStore.open(join(city.dataDir, 'store'))));
    try {
      const author = alliance.cities[0]!.nodeId;
      for (let from = 1; from <= Number(expected); from += 10_000) {
        const [a, b] = await Promise.all(stores.map((s) => s.entries(author, from, Number(expected), 10_000)));
        expect(b!.map((e) => Buffer.from(e.bytes).toString('hex'))).toEqual(a!.map((e) => Buffer.from(e.bytes).toString('hex')));
      }
      const last = await stores[1]!.entries(author, Number(expected), Number(expected), 1);
      expect(decodeEntry(last[0]!.bytes).entry.seq).toBe(expected);
      const [viewsA, viewsB] = await Promise.all(stores.map((s) => s.stateRange('view/', 1_000_000)));
      expect(viewsB!.length).toBe(viewsA!.length);
      expect(viewsB!.map(([k, v]) => `${k}=${Buffer.from(v).toString('hex')}`)).toEqual(viewsA!.map(([k, v]) => `${k}=${Buffer.from(v).toString('hex')}`));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  }, 900_000);
});
