import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SignedHead } from '../gen/tongxing/log/v1/log.js';
import type { PullEntriesResponse } from '../gen/tongxing/federation/v1/peer.js';
import { generateKeyPair, nodeIdOf, type Sm2KeyPair } from '../federation/crypto/sm2.js';
import { sm3 } from '../federation/crypto/sm3.js';
import { LogWriter } from '../federation/log/writer.js';
import { Membership } from '../federation/membership.js';
import { Replica, type PeerTransport } from '../federation/replica.js';
import { entityRegistration, usccFor } from '../federation/testing/records.js';
import { LevelStore } from '../node/store/level.js';
import { median, repetitions } from './micro.js';

// Log ingest as a node does it: a pulled chunk's signed head verified, the SM3
// chain of its entries checked, records validated, views planned, and entries
// + head + view changes committed in one LevelDB batch.

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
      random: { int: () => 0 },
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

export async function ingestFigures(count = 100_000) {
  const log = makeAuthorLog(count);
  const rates: number[] = [];
  for (let r = 0; r < repetitions; r++) rates.push(await ingestOnce(log));
  return { ingest_entries_per_s: median(rates), ingest_entry_bytes: Math.round(log.entryBytes) };
}
