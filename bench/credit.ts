import { PerformanceGrade, type Record as RecordMessage } from '../gen/tongxing/records/v1/records.js';
import { generateKeyPair, nodeIdOf } from '../federation/crypto/sm2.js';
import { dayMs, dayOf } from '../federation/credit/day.js';
import { isCreditKind, type CreditFact } from '../federation/credit/facts.js';
import { creditIndex } from '../federation/credit/index.js';
import { defaultCreditPolicy } from '../federation/credit/method.js';
import { readSubjectFacts } from '../federation/credit/read.js';
import { performanceRecord, randomCreditRecord, type Subject } from '../federation/credit/testing.js';
import { hlcPack } from '../federation/log/hlc.js';
import { Membership, type Member } from '../federation/membership.js';
import { Replica } from '../federation/replica.js';
import { MemoryStore } from '../federation/store/memory.js';
import { Bus } from '../federation/testing/bus.js';
import { Prng } from '../federation/testing/prng.js';
import { usccFor } from '../federation/testing/records.js';
import { planViews } from '../federation/views/apply.js';
import { testAccess } from '../node/access/testing.js';
import { connectCredit } from '../node/api/credit-client.js';
import { startApiServer } from '../node/api/server.js';
import { apiContext } from '../node/api/service.js';
import { apiServices } from '../node/api/services.js';
import { median } from './micro.js';

// The credit index's costs (issue 15's targets): the daily index of 100,000
// subjects holding 1,000,000 credit records on one core (under 60 s); the
// incremental update after one new record (under 1 ms): its views planned
// and its subject's index recomputed from the views; and `tongxing credit
// show` as the CLI calls it, over the guarded gRPC client API. Medians.

const subjectsCount = 100_000;
const recordsPerSubject = 10;
const chunkSubjects = 5_000;
const dailyRuns = 3;
const day = '2026-06-01';
const aroundMs = Date.UTC(2026, 4, 1);

/** One chunk of subjects with their facts (built outside the timed part, so the heap holds one chunk at a time). */
function chunkFacts(rng: Prng, first: number): CreditFact[][] {
  const author = 'a'.repeat(64);
  const chunk: CreditFact[][] = [];
  let seq = first * recordsPerSubject;
  for (let s = first; s < first + chunkSubjects; s++) {
    const subject: Subject = { uscc: usccFor(s) };
    const facts: CreditFact[] = [];
    for (let r = 0; r < recordsPerSubject; r++) {
      const record = randomCreditRecord(rng, `r-${seq}`, [subject], aroundMs);
      const kind = record.kind;
      if (!isCreditKind(kind)) {
        r--; // a sanction draw: the bench counts credit records
        continue;
      }
      facts.push({ at: { author, seq: ++seq, hlc: hlcPack(aroundMs + r, 0).toString() }, record: kind });
    }
    chunk.push(facts);
  }
  return chunk;
}

/** Milliseconds of computing every subject's index for one day (the index alone). */
function dailyIndexMs(seed: string): number {
  const rng = new Prng(seed);
  let ms = 0;
  for (let first = 0; first < subjectsCount; first += chunkSubjects) {
    const chunk = chunkFacts(rng, first);
    const start = performance.now();
    for (const facts of chunk) creditIndex(facts, [], day, defaultCreditPolicy);
    ms += performance.now() - start;
  }
  return ms;
}

async function benchReplica(): Promise<Replica> {
  const keyPair = generateKeyPair();
  const member: Member = { nodeId: nodeIdOf(keyPair.publicKey), publicKey: keyPair.publicKey, city: 'Kunming', regionCode: '530100', endpoints: [] };
  const alone = new Bus().transport(member.nodeId);
  return Replica.open({ allianceId: Buffer.alloc(32, 1), keyPair, members: new Membership([member]) }, { store: new MemoryStore(), transport: alone, clock: { nowMs: Date.now }, random: new Prng('bench').random() });
}

export async function creditFigures(): Promise<Record<string, number>> {
  const daily = median(Array.from({ length: dailyRuns }, (_, i) => dailyIndexMs(`credit-daily-${i}`)));

  // A node holding 200 subjects x 10 records: one new record re-indexes its subject.
  const replica = await benchReplica();
  const rng = new Prng('credit-node');
  const subjects: Subject[] = Array.from({ length: 200 }, (_, i) => ({ uscc: usccFor(i) }));
  for (let i = 0; i < 2000; i++) {
    let record: RecordMessage;
    do record = randomCreditRecord(rng, `n-${i}`, [subjects[i % subjects.length]!], aroundMs);
    while (!isCreditKind(record.kind));
    await replica.write(record);
  }
  const incremental: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const subject = subjects[i % subjects.length]!;
    const record = performanceRecord(`new-${i}`, subject, aroundMs - dayMs, PerformanceGrade.PERFORMANCE_GRADE_GOOD);
    const start = performance.now();
    await planViews([{ author: replica.nodeId, seq: 100_000 + i, hlc: hlcPack(aroundMs, i), hash: Buffer.alloc(32), record }], (keys) => replica.store.getStates(keys));
    const facts = await readSubjectFacts(replica, `uscc:${'uscc' in subject ? subject.uscc : ''}`);
    creditIndex(facts.credit, facts.sanctions, dayOf(aroundMs + dayMs), defaultCreditPolicy);
    incremental.push(performance.now() - start);
  }

  // `credit show` as the CLI asks it: a guarded gRPC call (mutual TLS, the admin credential a node publishes).
  const access = await testAccess();
  const services = apiServices(apiContext({ replica, clock: { nowMs: Date.now }, freshnessBudgetMs: 3_600_000, city: 'Kunming', allianceId: Buffer.alloc(32, 1), startedAtMs: Date.now() }));
  const server = await startApiServer({ listen: '127.0.0.1:0', guard: access.guard, tls: access.tls }, services);
  const credential = access.publish(server.port, 0);
  const client = connectCredit(`127.0.0.1:${server.port}`, { credential });
  const show: number[] = [];
  try {
    for (let i = 0; i < 1000; i++) {
      const start = performance.now();
      await client.getCreditIndex({ uscc: usccFor(i % subjects.length) }, dayOf(aroundMs + dayMs));
      show.push(performance.now() - start);
    }
  } finally {
    client.close();
    await server.stop();
    await replica.close();
  }
  const sorted = [...show].sort((a, b) => a - b);
  return {
    credit_daily_index_s: daily / 1000, // 100,000 subjects, 1,000,000 records, one core
    credit_daily_index_subjects_per_s: subjectsCount / (daily / 1000),
    credit_incremental_ms_median: median(incremental),
    credit_show_ms_median: median(show),
    credit_show_ms_p99: sorted[Math.floor(sorted.length * 0.99)]!,
  };
}
