import { describe, expect, it } from 'vitest';
import { generateKeyPair, nodeIdOf } from '../crypto/sm2.js';
import { sm3 } from '../crypto/sm3.js';
import { entityRegistration, sampleUsccs, sanctionIssue } from '../testing/records.js';
import { decodeEntry } from './entry.js';
import { makeProof, verifyProof } from './equivocation.js';
import { verifyHead } from './head.js';
import { hlcCounter, hlcPack, hlcTick, hlcWallMs } from './hlc.js';
import { ForkError, verifyRange } from './verify.js';
import { emptyTip, LogWriter } from './writer.js';

const allianceId = sm3(Buffer.from('test alliance'));
const author = generateKeyPair();
const t0 = Date.UTC(2026, 10, 28);

function writeBatch(writer: LogWriter, count: number, at = t0) {
  for (let i = 0; i < count; i++) writer.append(entityRegistration(sampleUsccs[i % sampleUsccs.length]!), at);
  return writer.seal(at)!;
}

describe('hybrid logical clock', () => {
  it('follows the wall clock and counts within one millisecond', () => {
    const a = hlcTick(0n, 1000);
    expect(hlcWallMs(a)).toBe(1000);
    const b = hlcTick(a, 1000);
    expect([hlcWallMs(b), hlcCounter(b)]).toEqual([1000, 1]);
    const c = hlcTick(b, 999); // the wall clock stepped back: order is kept
    expect(c > b).toBe(true);
    expect(hlcTick(hlcPack(5, 0xffff), 5)).toBe(hlcPack(6, 0));
  });
});

describe('log writer and range verification', () => {
  it('chains entries and signs one head per batch', () => {
    const writer = new LogWriter(allianceId, author);
    const batch = writeBatch(writer, 5);
    expect(batch.entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    const head = verifyHead(batch.head, author.publicKey, allianceId);
    expect(head.seq).toBe(5n);
    expect(head.author.toString('hex')).toBe(nodeIdOf(author.publicKey));
    const verified = verifyRange({ allianceId, publicKey: author.publicKey, signedHead: batch.head, tip: emptyTip, entries: batch.entries.map((e) => e.bytes) });
    expect(verified.entries[4]!.hash.equals(head.entryHash)).toBe(true);
    expect(Buffer.from(verified.entries[1]!.entry.prev).equals(verified.entries[0]!.hash)).toBe(true);
  });

  it('continues from a stored tip across batches', () => {
    const writer = new LogWriter(allianceId, author);
    const first = writeBatch(writer, 3);
    const second = writeBatch(writer, 2, t0 + 10);
    const tip = { seq: 3, hash: first.head.head!.entryHash };
    const verified = verifyRange({ allianceId, publicKey: author.publicKey, signedHead: second.head, tip, entries: second.entries.map((e) => e.bytes) });
    expect(verified.entries.map((e) => Number(e.entry.seq))).toEqual([4, 5]);
  });

  it('refuses an invalid record at append and appends nothing', () => {
    const writer = new LogWriter(allianceId, author);
    expect(() => writer.append(entityRegistration('91350100M000100Y44'), t0)).toThrow(/uscc/);
    expect(writer.pendingCount).toBe(0);
    expect(writer.tip.seq).toBe(0);
  });

  describe('rejects what a peer could forge', () => {
    const writer = new LogWriter(allianceId, author);
    const batch = writeBatch(writer, 4);
    const bytes = batch.entries.map((e) => e.bytes);
    const check = (entries: Uint8Array[], signedHead = batch.head, publicKey = author.publicKey) =>
      verifyRange({ allianceId, publicKey, signedHead, tip: emptyTip, entries });

    it('a tampered entry', () => {
      const tampered = bytes.map((b) => Buffer.from(b));
      tampered[2]![tampered[2]!.length - 3]! ^= 1;
      expect(() => check(tampered)).toThrow(/prev does not match|not a LogEntry|hash|uscc/);
    });
    it('a reordered range', () => {
      expect(() => check([bytes[0]!, bytes[2]!, bytes[1]!, bytes[3]!])).toThrow(/seq/);
    });
    it('a truncated range', () => {
      expect(() => check(bytes.slice(0, 3))).toThrow(/needs 4 entries/);
    });
    it('a head with a bad signature', () => {
      const signature = Buffer.from(batch.head.signature);
      signature[signature.length - 1]! ^= 1;
      expect(() => check(bytes, { ...batch.head, signature })).toThrow(expect.objectContaining({ name: expect.stringMatching(/SignatureError|EncodingError/) }));
    });
    it('a head signed by another key', () => {
      const other = generateKeyPair();
      expect(() => check(bytes, batch.head, other.publicKey)).toThrow(/is not the member the given key belongs to/);
    });
    it('a head of another alliance', () => {
      expect(() => verifyRange({ allianceId: sm3(Buffer.from('other')), publicKey: author.publicKey, signedHead: batch.head, tip: emptyTip, entries: bytes })).toThrow(/alliance/);
    });
  });
});

describe('equivocation', () => {
  it('is detected as a fork and proven by two heads at one seq', () => {
    const a = new LogWriter(allianceId, author);
    const b = new LogWriter(allianceId, author);
    const left = writeBatch(a, 2);
    b.append(sanctionIssue('S-1', sampleUsccs[0], t0), t0);
    b.append(sanctionIssue('S-2', sampleUsccs[1], t0), t0);
    const right = b.seal(t0)!;
    const proof = makeProof(left.head, right.head);
    expect(verifyProof(proof, author.publicKey, allianceId)).toEqual({ author: nodeIdOf(author.publicKey), seq: 2 });
    expect(() => verifyProof(makeProof(left.head, left.head), author.publicKey, allianceId)).toThrow(/agree/);
  });

  it('is proven across seqs by the chain of the longer history', () => {
    const a = new LogWriter(allianceId, author);
    const b = new LogWriter(allianceId, author);
    const short = writeBatch(a, 2);
    b.append(sanctionIssue('S-1', sampleUsccs[0], t0), t0);
    const long = writeBatch(b, 3, t0 + 1);
    const tip = { seq: 2, hash: short.head.head!.entryHash };
    const rest = long.entries.filter((e) => e.seq > 2).map((e) => e.bytes);
    expect(() => verifyRange({ allianceId, publicKey: author.publicKey, signedHead: long.head, tip, entries: rest })).toThrow(ForkError);
    const proof = makeProof(short.head, long.head, rest);
    expect(verifyProof(proof, author.publicKey, allianceId).seq).toBe(2);
    // An honest extension proves nothing.
    const honest = writeBatch(a, 2, t0 + 2);
    const extension = honest.entries.map((e) => e.bytes);
    expect(() => verifyProof(makeProof(short.head, honest.head, extension), author.publicKey, allianceId)).toThrow(/extends/);
    expect(Buffer.from(decodeEntry(extension[0]!).entry.prev).equals(short.head.head!.entryHash)).toBe(true);
  });
});
