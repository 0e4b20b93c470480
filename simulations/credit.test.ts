import { describe, expect, it } from 'vitest';
import { creditIndex } from '../federation/credit/index.js';
import { dayMs, dayOf } from '../federation/credit/day.js';
import { defaultCreditPolicy } from '../federation/credit/method.js';
import { readSubjectFacts } from '../federation/credit/read.js';
import { creditLiftRecord, randomCreditRecord, type Subject } from '../federation/credit/testing.js';
import { sampleUsccs } from '../federation/testing/records.js';
import { Alliance, allianceConfigDefault, epochMs } from './alliance.js';
import { Prng } from './core/index.js';

// The credit index under the simulator's replicas: random credit records,
// lifts and sanctions written at random nodes and times over lossy, reordering
// links; once every replica holds every log, every replica answers the same
// index and explanation for every subject and day. The seed is printed.

const subjects: Subject[] = [{ uscc: sampleUsccs[0] }, { uscc: sampleUsccs[1] }, { uscc: sampleUsccs[3] }, { expertRef: 'sim.e-1' }];
const subjectKeys = subjects.map((s) => ('uscc' in s ? `uscc:${s.uscc}` : `expert:${s.expertRef}`));

describe('credit under the simulator', () => {
  it('every replica computes the same index from the same records', async () => {
    const seed = process.env.CREDIT_SIM_SEED ?? 'credit-sim-1';
    console.log(`credit simulation seed ${seed} (replay: CREDIT_SIM_SEED=${seed})`);
    const alliance = new Alliance({ ...allianceConfigDefault, seed, nodes: 6, link: { latencyMs: { kind: 'uniform', min: 5, max: 120 }, lossProbability: 0.1, duplicateProbability: 0.05 } });
    try {
      await alliance.startAll();
      const rng = new Prng(seed).fork('credit');
      const written = new Map<string, string[]>();
      for (let i = 0; i < 120; i++) {
        alliance.scheduler.at(200 + i * 50, () => {
          const node = rng.pick(alliance.nodes);
          const own = written.get(node.id) ?? [];
          written.set(node.id, own);
          if (own.length > 0 && rng.chance(0.15)) return alliance.write(node, creditLiftRecord(rng.pick(own), epochMs + rng.int(0, 300) * dayMs));
          const id = `${node.label}-${i}`;
          const record = randomCreditRecord(rng, id, subjects, epochMs + 100 * dayMs);
          if (record.kind?.$case !== 'sanctionIssue') own.push(id);
          return alliance.write(node, record);
        });
      }
      await alliance.runUntil(40_000);
      const seqs = alliance.nodes.map((n) => JSON.stringify(n.replica!.logs().map((l) => [l.nodeId, l.storedSeq])));
      expect(new Set(seqs).size, 'every replica holds every log').toBe(1);
      const days = [30, 110, 200, 320].map((d) => dayOf(epochMs + d * dayMs));
      const answers = [];
      for (const node of alliance.nodes) {
        const per = [];
        for (const subject of subjectKeys) {
          const facts = await readSubjectFacts(node.replica!, subject);
          for (const day of days) per.push(creditIndex(facts.credit, facts.sanctions, day, defaultCreditPolicy));
        }
        answers.push(JSON.stringify(per));
      }
      expect(new Set(answers).size).toBe(1);
      const parsed = JSON.parse(answers[0]!) as Array<{ contributions: unknown[] }>;
      expect(parsed.reduce((n, p) => n + p.contributions.length, 0)).toBeGreaterThan(20);
    } finally {
      alliance.close();
    }
  }, 60_000);
});
