import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SignedHead } from '../gen/tongxing/log/v1/log.js';
import type { PullEntriesResponse } from '../gen/tongxing/federation/v1/peer.js';
import { generateKeyPair, nodeIdOf, type Sm2KeyPair } from '../federation/crypto/sm2.js';
import { sm3 } from '../federation/crypto/sm3.js';
import { verifyRange } from '../federation/log/verify.js';
import { LogWriter } from '../federation/log/writer.js';
import { Membership } from '../federation/membership.js';
import { Replica, type PeerTransport } from '../federation/replica.js';
import { entityRegistration, usccFor } from '../federation/testing/records.js';
import { LevelStore } from '../node/store/level.js';
import { levelOnce, median, repetitions } from './micro.js';
import { Prng } from '../federation/testing/prng.js';

// Ingest of a pulled log, two ways: the log alone (head signature, SM3 chain,
// records, atomic store) and the whole node path through the Replica, which
// also plans and writes the views in the same LevelDB batch.

export interface AuthorLog {
  readonly keyPair: Sm2KeyPair;
  readonly allianceId: Buffer;
  /** Chunks as a peer serves them: entries after the previous head, up to a signed head. */
  readonly chunks: PullEntriesResponse[];
  readonly entryBytes: number;
}

/** `count` entity registrations of about 300 bytes, in signed batches of `batchSize`. */
export function makeAuthorLog(count: number, batchSize = 1000): AuthorLog {
  const keyPair = generateKeyPair();
  const allianceId = sm3(Buffer.from('bench alliance'));
  const writer = new LogWriter(allianceId, keyPair);
  const chunks: PullEntriesResponse[] = [];
  const now = Date.now();
  let entryBytes = 0;
  for (let seq = 0; seq < count; seq += batchSize) {
    for (let i = seq; i < Math.min(count, seq + batchSize); i++) {
      // The legal name pads the entry to ~300 bytes, the size the targets are stated for.
      entryBytes += writer.append(entityRegistration(usccFor(i), `Yunnan Provincial Construction Engineering Group No. ${i} Co., Ltd. (works, goods, services)`), now).bytes.length;
    }
    const sealed = writer.seal(now)!;
    chunks.push({ entries: sealed.entries.map((e) => Buffer.from(e.bytes)), head: sealed.head });
  }
  return { keyPair, allianceId, chunks, entryBytes: entryBytes / count };
}

/** A peer that serves `log` from memory. */
function servingTransport(log: AuthorLog): PeerTransport {
  return {
    exchangeHeads: async () => ({ heads: [], proofs: [] }),
    async *pullEntries(_peer, request) {
      for (const chunk of log.chunks) if (chunk.head!.head!.seq > request.afterSeq) yield chunk;
    },
    announce: () => {},
  };
}

/** Entries per second for one fresh replica on LevelDB ingesting the whole log. */
export async function ingestOnce(log: AuthorLog): Promise<number> {
  const author = nodeIdOf(log.keyPair.publicKey);
  const reader = generateKeyPair();
  const members = new Membership(
    [log.keyPair, reader].map((k, i) => ({ nodeId: nodeIdOf(k.publicKey), publicKey: k.publicKey, city: `City${i}`, regionCode: '530100', endpoints: [] })),
  );
  const dir = mkdtempSync(join(tmpdir(), 'tongxing-bench-ingest-'));
  const store = await LevelStore.open(dir);
  const last: SignedHead = log.chunks.at(-1)!.head!;
  const total = Number(last.head!.seq);
  let done!: () => void;
  const finished = new Promise<void>((ok) => (done = ok));
  const replica = await Replica.open(
    { allianceId: log.allianceId, keyPair: reader, members },
    {
      store,
      transport: servingTransport(log),
      clock: { nowMs: () => Date.now() },
      random: new Prng('test').random(),
      onEvent: (event) => {
        if (event.type === 'ingested' && event.toSeq === total) done();
        if (event.type === 'rejected') throw new Error(event.reason);
      },
    },
  );
  const start = performance.now();
  await replica.receiveAnnouncement({ kind: { $case: 'head', value: { head: last, entries: [] } } }, author);
  await finished;
  const rate = total / ((performance.now() - start) / 1000);
  await replica.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

/**
 * Log ingest as the issue defines it: each chunk's signed head verified, the
 * SM3 chain and records of its entries checked (verifyRange), and entries +
 * head committed atomically to LevelDB. No views: ingestOnce measures those.
 */
export async function logIngestOnce(log: AuthorLog): Promise<number> {
  const author = nodeIdOf(log.keyPair.publicKey);
  const dir = mkdtempSync(join(tmpdir(), 'tongxing-bench-log-'));
  const store = await LevelStore.open(dir);
  const start = performance.now();
  let tip = { seq: 0, hash: Buffer.alloc(32) as Uint8Array };
  let writing: Promise<void> = Promise.resolve();
  for (const chunk of log.chunks) {
    // Verify the next chunk while LevelDB writes the previous one (its own thread).
    const verified = verifyRange({ allianceId: log.allianceId, publicKey: log.keyPair.publicKey, signedHead: chunk.head!, tip, entries: chunk.entries });
    const entries = verified.entries.map((e, i) => ({ author, seq: tip.seq + 1 + i, bytes: e.bytes }));
    await writing;
    writing = store.commit({ entries, heads: [chunk.head!], state: [], durable: false });
    tip = { seq: Number(verified.head.seq), hash: verified.head.entryHash };
  }
  await writing;
  const rate = tip.seq / ((performance.now() - start) / 1000);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

export async function ingestFigures(count = 100_000) {
  const log = makeAuthorLog(count);
  // One unmeasured run each first, so the medians are of JIT-compiled code.
  const measure = async (run: (log: AuthorLog) => Promise<number>) => {
    await run(log);
    const rates: number[] = [];
    for (let r = 0; r < repetitions; r++) rates.push(await run(log));
    return rates;
  };
  // Log ingest and raw LevelDB alternate, and the ratio is taken pair by pair,
  // so a slow moment on a shared machine hits both sides of a pair alike.
  await logIngestOnce(log);
  await levelOnce();
  const logRates: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < repetitions; r++) {
    const rate = await logIngestOnce(log);
    logRates.push(rate);
    ratios.push(rate / (await levelOnce()));
  }
  const nodeRates = await measure(ingestOnce);
  return {
    ingest_entries_per_s: median(logRates),
    ingest_vs_leveldb: median(ratios),
    ingest_with_views_entries_per_s: median(nodeRates),
    ingest_entry_bytes: Math.round(log.entryBytes),
  };
}
