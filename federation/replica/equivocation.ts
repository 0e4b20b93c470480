import type { EquivocationProof, SignedHead } from '../../gen/tongxing/log/v1/log.js';
import { EquivocationProof as EquivocationProofCodec } from '../../gen/tongxing/log/v1/log.js';
import { decodeEntry, toHex } from '../log/entry.js';
import { makeProof, verifyProof } from '../log/equivocation.js';
import { proofKey, viewsRebuildKey } from '../store/state-keys.js';
import type { StoredEntry } from '../store/store.js';
import type { Verdict } from './sync.js';
import type { CoreState } from './state.js';

// Two signed heads of one author that no single history explains: proved,
// stored, spread, and the author quarantined everywhere alike.

/** A proof from a peer (gossip or a head vector): verified against the author's key before it counts. */
export function receiveProof(core: CoreState, proof: EquivocationProof, from?: string, publisher?: string): Verdict {
  const author = toHex(proof.first?.head?.author ?? Buffer.alloc(0));
  const member = core.members.get(author);
  if (!member) return core.reject(from, 'equivocation proof about a non-member');
  if (core.proofs.has(author)) return 'ignore';
  if (publisher !== undefined && !core.verifications.take(publisher, core.clock.nowMs())) return 'ignore';
  try {
    verifyProof(proof, member.publicKey, core.init.allianceId, author);
  } catch (error) {
    return core.reject(from, `equivocation proof: ${(error as Error).message}`);
  }
  recordProof(core, proof);
  return 'accept';
}

/**
 * Records a (verified or self-made) proof: the author is quarantined at once
 * (no more of its entries are accepted); the proof and the rebuild marker are
 * committed together, then announced, and the views rebuilt without any of
 * its records, so every honest node answers alike whichever of the two
 * histories it had.
 */
export function recordProof(core: CoreState, proof: EquivocationProof): void {
  const author = toHex(proof.first!.head!.author);
  if (core.proofs.has(author)) return;
  const { seq } = verifyProof(proof, core.members.get(author)!.publicKey, core.init.allianceId, author);
  core.proofs.set(author, proof);
  const { outbox } = core;
  outbox.commits.push({
    author,
    entries: [],
    hashed: [],
    heads: [],
    state: [
      { key: proofKey(author), value: EquivocationProofCodec.encode(proof).finish() },
      { key: viewsRebuildKey, value: new Uint8Array(0) },
    ],
    durable: true,
    validated: false,
    event: { type: 'equivocation', author, seq },
  });
  outbox.announcements.push({ kind: { $case: 'proof', value: proof } });
  outbox.rebuildViews = true;
}

/**
 * A head at or below the accepted tip must agree with what is held. At the
 * tip it is compared here; below it the driver reads the stored history
 * (storedHistory) and hands it to checkStored.
 */
export function checkConsistent(core: CoreState, signed: SignedHead): void {
  const head = signed.head!;
  const author = toHex(head.author);
  const seq = Number(head.seq);
  if (seq === 0 || core.proofs.has(author)) return;
  const tip = core.acceptedOf(author);
  if (seq === tip.seq) {
    if (!head.entryHash.equals(tip.hash)) recordProof(core, makeProof(core.acceptedHead(author), signed));
    return;
  }
  core.outbox.checks.push({ signed });
}

/** What the store holds around a checked head: the stored head at or after its seq, and the entries from its seq up to that head. */
export interface StoredHistory {
  readonly covering: SignedHead | undefined;
  readonly chain: readonly StoredEntry[];
}

export function checkStored(core: CoreState, signed: SignedHead, { covering, chain }: StoredHistory): void {
  const head = signed.head!;
  const author = toHex(head.author);
  if (!covering || core.proofs.has(author)) return;
  if (Number(covering.head!.seq) === Number(head.seq)) {
    if (!covering.head!.entryHash.equals(head.entryHash)) recordProof(core, makeProof(covering, signed));
    return;
  }
  const ours = chain[0] && decodeEntry(chain[0].bytes);
  if (ours && !ours.hash.equals(head.entryHash)) recordProof(core, makeProof(signed, covering, chain.slice(1).map((e) => e.bytes)));
}
