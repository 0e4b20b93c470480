import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPair, nodeIdOf } from '../../federation/crypto/sm2.js';
import { Membership } from '../../federation/membership.js';
import { checkSanctions } from '../../federation/queries.js';
import { Replica } from '../../federation/replica.js';
import { MemoryStore } from '../../federation/store/memory.js';
import { Bus } from '../../federation/testing/bus.js';
import { entityRegistration, usccFor } from '../../federation/testing/records.js';
import { startTelemetry, type Telemetry } from '../telemetry.js';
import { metricDefinitions } from './metrics.js';
import { replicationLag } from './replication.js';
import { scrape, value } from './testing.js';
import { Prng } from '../../federation/testing/prng.js';

// A sanctions check and the breach metric read one freshness rule: whenever a
// check fails closed on a member, the metric has that member in a breach, and
// only then; including right after a restart, before anything is heard.

const allianceId = Buffer.alloc(32, 0x3c);
const budgetMs = 30_000;
const cities = ['Kunming', 'Guiyang'];

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('freshness of checks and metrics', () => {
  it('agree after a restart (both fail closed until a head is heard), once heard, and past the budget', async () => {
    let now = Date.UTC(2025, 5, 1);
    const clock = { nowMs: () => now };
    const keys = cities.map(() => generateKeyPair());
    const members = new Membership(keys.map((k, i) => ({ nodeId: nodeIdOf(k.publicKey), publicKey: k.publicKey, city: cities[i]!, regionCode: '530100', endpoints: [] })));
    const [kunmingId, guiyangId] = keys.map((k) => nodeIdOf(k.publicKey)) as [string, string];
    const bus = new Bus();
    const open = async (i: number, store: MemoryStore) => {
      const replica = await Replica.open({ allianceId, keyPair: keys[i]!, members }, { store, transport: bus.transport(members.list()[i]!.nodeId), clock, random: new Prng('test').random() });
      bus.replicas.set(replica.nodeId, replica);
      return replica;
    };
    const kunmingStore = new MemoryStore();
    const guiyang = await open(1, new MemoryStore());
    cleanups.push(() => guiyang.close());
    let kunming = await open(0, kunmingStore);
    await guiyang.write(entityRegistration(usccFor(7)));
    guiyang.beacon();
    await kunming.antiEntropyRound();
    expect(kunming.logs().find((l) => l.nodeId === guiyangId)?.signedAtMs).toBeDefined();

    // Restart: the store keeps Guiyang's log, but no head has been heard by this replica.
    await kunming.close();
    kunming = await open(0, kunmingStore);
    const restarted = kunming;
    cleanups.push(() => restarted.close());
    expect(kunming.logs().find((l) => l.nodeId === guiyangId)).toMatchObject({ storedSeq: 1, signedAtMs: undefined });

    const telemetry: Telemetry = await startTelemetry({ metricsListen: '127.0.0.1:0', nodeId: kunmingId, city: 'Kunming', nowMs: clock.nowMs });
    cleanups.push(() => telemetry.stop());
    telemetry.observeLag(() => replicationLag(kunming, (id) => members.get(id)?.city ?? '', now, budgetMs));

    /** The check's verdict and Guiyang's breaches, after asserting that, per member, the check, node status and the scrape all say "not fresh" or none does. */
    const both = async () => {
      const check = await checkSanctions(kunming, `uscc:${usccFor(8)}`, now, now, budgetMs);
      const sync = telemetry.memberSync();
      const scraped = await scrape(telemetry.metricsPort!);
      const breaches = value(scraped, metricDefinitions.freshnessBreaches.name, { member: guiyangId, city: 'Guiyang' });
      for (const f of check.freshness) {
        expect(sync.get(f.nodeId)?.staleSinceMs !== undefined, `${f.nodeId.slice(0, 8)} ${f.state}`).toBe(f.stale);
        expect(value(scraped, metricDefinitions.memberStale.name, { member: f.nodeId, city: members.get(f.nodeId)!.city }), f.state).toBe(f.stale ? 1 : 0);
      }
      return { verdict: check.verdict, guiyang: check.freshness.find((f) => f.nodeId === guiyangId)!.state, breaches, staleSinceMs: sync.get(guiyangId)!.staleSinceMs };
    };

    const startedMs = now;
    expect(await both()).toEqual({ verdict: 'unknown-stale', guiyang: 'unknown', breaches: 1, staleSinceMs: startedMs });

    now += 1_000;
    guiyang.beacon();
    await kunming.antiEntropyRound();
    expect(await both()).toEqual({ verdict: 'clear', guiyang: 'fresh', breaches: 1, staleSinceMs: undefined });

    const signedAtMs = kunming.logs().find((l) => l.nodeId === guiyangId)!.signedAtMs!;
    now = signedAtMs + budgetMs + 1;
    expect(await both()).toEqual({ verdict: 'unknown-stale', guiyang: 'stale', breaches: 2, staleSinceMs: signedAtMs + budgetMs });
  });
});
