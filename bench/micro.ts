import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { generateKeyPair, sign, verify } from '../federation/crypto/sm2.js';
import { sm3 } from '../federation/crypto/sm3.js';

// Crypto and storage primitives, each measured as the median of several
// timed repetitions so that one noisy moment on a shared machine does not
// decide the figure.

export const repetitions = 5;

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Operations per second: the median over `repetitions` runs of `count` operations. */
export async function perSecond(count: number, run: (i: number) => unknown | Promise<unknown>, setup?: () => Promise<void> | void): Promise<number> {
  const rates: number[] = [];
  for (let r = 0; r < repetitions; r++) {
    await setup?.();
    const start = performance.now();
    for (let i = 0; i < count; i++) {
      const result = run(i);
      if (result instanceof Promise) await result;
    }
    rates.push(count / ((performance.now() - start) / 1000));
  }
  return median(rates);
}

export async function sm2Figures() {
  const pair = generateKeyPair();
  const message = Buffer.alloc(200, 7);
  const signature = sign(pair.privateKey, message, pair.publicKey);
  verify(pair.publicKey, message, signature); // precompute and cache the key once
  const { sm2 } = createRequire(import.meta.url)('sm-crypto') as {
    sm2: { doVerifySignature(msg: string, sig: string, pub: string, opts: object): boolean; doSignature(msg: string, key: string, opts: object): string };
  };
  const publicHex = Buffer.from(pair.publicKey).toString('hex');
  const rawHex = sm2.doSignature(message.toString('hex'), Buffer.from(pair.privateKey).toString('hex'), { hash: true, der: false });
  const plain = message.toString('hex');
  return {
    sm2_sign_per_s: await perSecond(200, () => sign(pair.privateKey, message, pair.publicKey)),
    sm2_verify_per_s: await perSecond(300, () => verify(pair.publicKey, message, signature)),
    // sm-crypto verifies ~25/s: a handful is enough for a median.
    sm2_verify_per_s_sm_crypto: await perSecond(8, () => sm2.doVerifySignature(plain, rawHex, publicHex, { hash: true, der: false })),
  };
}

export async function sm3Figures() {
  const data = Buffer.alloc(1 << 20, 0x5a);
  const perS = await perSecond(64, () => sm3(data));
  return { sm3_mb_per_s: perS }; // 1 MiB per operation
}

/** Raw LevelDB: one run of batches of 1000 puts of 300-byte values under the keys LevelStore uses for entries. */
export async function levelOnce(entries = 100_000, batchSize = 1000): Promise<number> {
  const value = Buffer.alloc(300, 1);
  const author = 'a1'.repeat(32); // a node id: 64 hex characters
  const dir = mkdtempSync(join(tmpdir(), 'tongxing-bench-level-'));
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' });
  await db.open();
  const start = performance.now();
  for (let i = 0; i < entries; i += batchSize) {
    const batch = db.batch();
    for (let j = i; j < i + batchSize; j++) batch.put(`log/${author}/${j.toString(16).padStart(16, '0')}`, value);
    await batch.write();
  }
  const rate = entries / ((performance.now() - start) / 1000);
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

export async function levelFigures() {
  await levelOnce(); // unmeasured warm-up
  const rates: number[] = [];
  for (let r = 0; r < repetitions; r++) rates.push(await levelOnce());
  return { leveldb_batch_writes_per_s: median(rates) };
}
