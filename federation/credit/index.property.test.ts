import { describe, expect, it } from 'vitest';
import type { Record } from '../../gen/tongxing/records/v1/records.js';
import { hlcPack } from '../log/hlc.js';
import { defaultCreditPolicy } from './method.js';
import { Prng } from '../testing/prng.js';
import { sampleUsccs } from '../testing/records.js';
import { planViews, type ViewEntry } from '../views/apply.js';
import { dayMs, dayOf } from './day.js';
import { creditIndex } from './index.js';
import { readSubjectFacts, type CreditSource } from './read.js';
import { creditLiftRecord, randomCreditRecord, type Subject } from './testing.js';

// Model-free property: the index is a function of the SET of records. Random
// record sets (with lifts and sanctions) written by three members are fed to
// the views in random arrival orders (each author's log in its own order, the
// logs interleaved at random, in random batch sizes); every order gives the
// same index and explanation for every subject and day, and so does feeding
// the facts to the index reversed. Seeds are printed; replay with CREDIT_SEED.

const subjects: Subject[] = [{ uscc: sampleUsccs[0] }, { uscc: sampleUsccs[1] }, { uscc: sampleUsccs[2] }, { expertRef: 'km.e-000001' }];
const subjectKeys = subjects.map((s) => ('uscc' in s ? `uscc:${s.uscc}` : `expert:${s.expertRef}`));
const authors = ['a', 'b', 'c'].map((ch) => ch.repeat(64));
const baseMs = Date.UTC(2026, 0, 5, 1);

/** Each author's log: random records, some lifted later by the same author. */
function logs(rng: Prng): Map<string, ViewEntry[]> {
  const byAuthor = new Map<string, ViewEntry[]>();
  for (const author of authors) {
    const entries: ViewEntry[] = [];
    const add = (record: Record) => {
      const seq = entries.length + 1;
      entries.push({ author, seq, hlc: hlcPack(baseMs + rng.int(0, 200) * dayMs + seq, 0), hash: Buffer.alloc(32), record });
    };
    const ids: string[] = [];
    for (let i = 0; i < rng.int(5, 40); i++) {
      const id = `${author[0]}-${i}`;
      const record = randomCreditRecord(rng, id, subjects, baseMs + 100 * dayMs);
      add(record);
      if (record.kind?.$case !== 'sanctionIssue') ids.push(id);
      if (ids.length > 0 && rng.chance(0.2)) add(creditLiftRecord(rng.pick(ids), baseMs + rng.int(0, 300) * dayMs));
    }
    // An author's entries carry rising clocks, as a log does.
    entries.sort((x, y) => (x.hlc < y.hlc ? -1 : 1)).forEach((e, i) => Object.assign(e, { seq: i + 1 }));
    byAuthor.set(author, entries);
  }
  return byAuthor;
}

/** The views after the entries arrive in one random interleaving of the logs, in random batches. */
async function arrive(rng: Prng, byAuthor: Map<string, ViewEntry[]>): Promise<CreditSource> {
  const state = new Map<string, Uint8Array>();
  const next = new Map(authors.map((a) => [a, 0]));
  for (;;) {
    const open = authors.filter((a) => next.get(a)! < byAuthor.get(a)!.length);
    if (open.length === 0) break;
    const author = rng.pick(open);
    const from = next.get(author)!;
    const batch = byAuthor.get(author)!.slice(from, from + rng.int(1, 6));
    next.set(author, from + batch.length);
    for (const change of await planViews(batch, async (keys) => keys.map((k) => state.get(k)))) {
      if (change.value === undefined) state.delete(change.key);
      else state.set(change.key, change.value);
    }
  }
  const sorted = () => [...state.keys()].sort();
  return {
    isQuarantined: () => false,
    store: {
      getStates: async (keys) => keys.map((k) => state.get(k)),
      stateRange: async (prefix, limit) => sorted().filter((k) => k.startsWith(prefix)).slice(0, limit).map((k) => [k, state.get(k)!] as [string, Uint8Array]),
    },
  };
}

const days = [50, 120, 180, 260, 330, 420].map((d) => dayOf(baseMs + d * dayMs));

async function indexes(source: CreditSource, reverse = false): Promise<string> {
  const answers = [];
  for (const subject of subjectKeys) {
    const facts = await readSubjectFacts(source, subject);
    const credit = reverse ? [...facts.credit].reverse() : facts.credit;
    const sanctions = reverse ? [...facts.sanctions].reverse() : facts.sanctions;
    for (const day of days) answers.push(creditIndex(credit, sanctions, day, defaultCreditPolicy));
  }
  return JSON.stringify(answers);
}

describe('the credit index is order-independent', () => {
  const seeds = process.env.CREDIT_SEED ? [process.env.CREDIT_SEED] : Array.from({ length: 12 }, (_, i) => `credit-order-${i}`);
  for (const seed of seeds) {
    it(`seed ${seed}: every arrival order gives the same index and explanation`, async () => {
      console.log(`credit property seed ${seed} (replay: CREDIT_SEED=${seed})`);
      const rng = new Prng(seed);
      const byAuthor = logs(rng.fork('records'));
      const orders = rng.fork('orders');
      const first = await arrive(orders, byAuthor);
      const expected = await indexes(first);
      expect(await indexes(first, true)).toBe(expected);
      for (let k = 0; k < 6; k++) expect(await indexes(await arrive(orders, byAuthor))).toBe(expected);
      // Not vacuous: records count, and some subject moves away from the base.
      const parsed = JSON.parse(expected) as Array<{ contributions: unknown[]; indexHundredths: number }>;
      expect(parsed.some((p) => p.contributions.length > 0 && p.indexHundredths !== defaultCreditPolicy.method!.baseHundredths)).toBe(true);
    });
  }
});
