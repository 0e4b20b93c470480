import { Verdict } from '../../gen/tongxing/api/v1/api.js';
import { entityProfile, lift, sanction, usccFor } from '../../federation/testing/records.js';
import { connectApi, type ApiClient } from '../api/client.js';
import { startLocalAlliance, westernCities } from '../local-alliance.js';
import { exitNegative, exitOk, optional, printJson, UsageError, type Command } from './command.js';

// `make demo`: "fail once, restricted everywhere" on real node processes.

const pollIntervalMs = 2;

interface Actor {
  readonly api: ApiClient;
  readonly city: string;
}
const waitMsMax = 30_000;

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + waitMsMax;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${waitMsMax} ms`);
    await new Promise((ok) => setTimeout(ok, pollIntervalMs));
  }
}

/** Milliseconds from `startMs` until each city's answer satisfies `done`. */
function propagation(apis: ApiClient[], cities: string[], startMs: number, what: string, done: (api: ApiClient) => Promise<boolean>) {
  return Promise.all(
    apis.map(async (api, i) => {
      await until(`${what} at ${cities[i]}`, async () => ((await done(api)) ? true : undefined));
      return Date.now() - startMs;
    }),
  );
}

const demo: Command = {
  path: ['demo'],
  summary: 'start a local alliance and show "fail once, restricted everywhere"',
  usage: '[--cities N] [--json]\n\n  --cities N  city nodes to start (3 to 12, default 3)\n  --json      print one JSON object instead of the story\n',
  options: { cities: { type: 'string' }, json: { type: 'boolean' } },
  async run(args, io) {
    const count = Number(optional(args, 'cities') ?? 3);
    if (!Number.isInteger(count) || count < 3 || count > westernCities.length) throw new UsageError(`--cities must be 3 to ${westernCities.length}`);
    const json = args.values.json === true;
    const say = (line: string) => {
      if (!json) io.stdout(line + '\n');
    };

    say(`Starting ${count} city nodes on 127.0.0.1, each its own process with its own LevelDB, SM2 key and gossip peer...`);
    const alliance = await startLocalAlliance({ cities: count, beaconIntervalMs: 1000 });
    const apis: ApiClient[] = [];
    try {
      const cities = alliance.cities.map((c) => c.city);
      apis.push(...alliance.cities.map((c) => connectApi(c.apiAddress)));
      const [a, b, c] = [0, 1, 2].map((i) => ({ api: apis[i]!, city: cities[i]! })) as [Actor, Actor, Actor];
      for (const city of alliance.cities) say(`  ${city.city.padEnd(9)} node ${city.nodeId.slice(0, 16)}  api ${city.apiAddress}`);

      // Every node must have heard every member before a "clear" can be trusted (freshness budget).
      await Promise.all(
        apis.map((api) => until('all members heard', async () => ((await api.getStatus()).members.every((m) => m.self || m.headAgeMs >= 0n) ? true : undefined))),
      );
      say(`All ${count} nodes hear each other.\n`);

      const uscc = usccFor(20261128);
      const name = 'Dianchi Road & Bridge Construction Co., Ltd.';
      const registered = Date.now();
      await a.api.registerEntity(entityProfile(uscc, name));
      const entityMs = await propagation(apis, cities, registered, 'the registration', async (api) => (await api.getEntity(uscc)).found);
      say(`1. ${a.city} registers ${name} (USCC ${uscc}); every city knows it within ${Math.max(...entityMs)} ms.`);

      const before = await c.api.checkSanctions(uscc);
      say(`2. ${c.city} checks it before bid opening: ${Verdict[before.verdict] === 'VERDICT_CLEAR' ? 'clear, may bid' : Verdict[before.verdict]}.`);

      const issuedAt = Date.now();
      const sanctionId = `GY-2026-${String(issuedAt % 100000).padStart(5, '0')}`;
      await b.api.issueSanction(sanction(sanctionId, uscc, issuedAt - 1000));
      const issueMs = await propagation(apis, cities, issuedAt, 'the sanction', async (api) => (await api.checkSanctions(uscc)).verdict === Verdict.VERDICT_RESTRICTED);
      const refused = await c.api.checkSanctions(uscc);
      const active = refused.sanctions[0]!;
      say(`3. ${b.city} puts it on the serious dishonesty list (${sanctionId}, bid rigging, ban for 1 year).`);
      say(`4. ${c.city} checks again: RESTRICTED by ${active.issued?.authorCity} (${active.sanction?.grounds}) - the bid is refused.`);
      say(`   Time from issue to enforcement: ${cities.map((city, i) => `${city} ${issueMs[i]} ms`).join(', ')}.`);

      const liftedAt = Date.now();
      await b.api.liftSanction(lift(sanctionId, liftedAt - 1));
      const liftMs = await propagation(apis, cities, liftedAt, 'the lift', async (api) => (await api.checkSanctions(uscc)).verdict === Verdict.VERDICT_CLEAR);
      say(`5. ${b.city} lifts it after credit repair; ${c.city} clears it: ${cities.map((city, i) => `${city} ${liftMs[i]} ms`).join(', ')}.`);
      say(`\nFail once, restricted everywhere: no central database, every record SM2-signed at its source.`);

      if (json) {
        printJson(io, {
          ok: true,
          cities,
          uscc,
          sanction_id: sanctionId,
          registration_propagation_ms: Object.fromEntries(cities.map((city, i) => [city, entityMs[i]])),
          propagation_ms: Object.fromEntries(cities.map((city, i) => [city, issueMs[i]])),
          lift_propagation_ms: Object.fromEntries(cities.map((city, i) => [city, liftMs[i]])),
        });
      }
      return exitOk;
    } catch (error) {
      if (json) printJson(io, { ok: false, error: (error as Error).message });
      else io.stderr(`demo failed: ${(error as Error).message}\n`);
      for (const node of alliance.nodes) if (node) io.stderr(`--- ${node.files.city} log (tail) ---\n${node.log().slice(-2000)}\n`);
      return exitNegative;
    } finally {
      for (const api of apis) api.close();
      await alliance.stop();
      say('All nodes stopped.');
    }
  },
};

export const demoCommands: Command[] = [demo];
