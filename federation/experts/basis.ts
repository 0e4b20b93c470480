import type { CreditPolicy, LogPosition } from '../../gen/tongxing/records/v1/records.js';
import { LimitError } from '../errors.js';
import { drawBasisEntriesMax, rangeEntriesMax } from '../limits.js';
import { decodeEntry, toHex } from '../log/entry.js';
import type { Store } from '../store/store.js';
import { prepareViewEntries, rejectionKey } from '../views/apply.js';
import { WorldBuilder, worldKinds, type ExpertWorld } from './world.js';

// A draw's basis: for each member, the last entry of its log the draw was
// computed from. The world at a basis is read from the logs themselves, not
// from the views (which only hold the latest state), so a node that has since
// ingested more still sees exactly what the host saw.

/** Author (hex node id) -> seq. */
export type Basis = ReadonlyMap<string, number>;

export function basisFromPositions(positions: readonly LogPosition[]): Basis {
  return new Map(positions.map((p) => [toHex(p.author), Number(p.seq)]));
}

export function basisToPositions(basis: Basis): LogPosition[] {
  return [...basis]
    .filter(([, seq]) => seq > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([author, seq]) => ({ author: Buffer.from(author, 'hex'), seq: BigInt(seq) }));
}

/** What this store lacks of a basis: authors whose stored log ends before the basis seq. */
export function missingFromBasis(basis: Basis, storedSeq: (author: string) => number): Array<{ author: string; needed: number; stored: number }> {
  const missing = [];
  for (const [author, seq] of basis) {
    const stored = storedSeq(author);
    if (stored < seq) missing.push({ author, needed: seq, stored });
  }
  return missing;
}

export interface ReadWorldOptions {
  /** Authors whose records count for nothing (an equivocation proof names them), as in the views. */
  readonly excluded?: (author: string) => boolean;
  /** The credit policy in force for the draw (creditPolicyForSession); default the genesis default. */
  readonly creditPolicy?: CreditPolicy;
}

/**
 * The expert world made of every author's entries 1..basis seq. Records that
 * are invalid, or that the views rejected (view/rejected/), are left out, as
 * the views leave them out. The caller checks first that the store holds the
 * whole basis (missingFromBasis). Throws LimitError past drawBasisEntriesMax.
 */
export async function readWorld(store: Store, basis: Basis, options: ReadWorldOptions = {}): Promise<ExpertWorld> {
  const total = [...basis.values()].reduce((sum, seq) => sum + seq, 0);
  if (total > drawBasisEntriesMax) {
    throw new LimitError(`the basis spans ${total} entries; drawBasisEntriesMax ${drawBasisEntriesMax}`);
  }
  const builder = new WorldBuilder();
  for (const [author, seq] of [...basis].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (options.excluded?.(author)) continue;
    for (let from = 1; from <= seq; from += rangeEntriesMax) {
      const stored = await store.entries(author, from, seq, rangeEntriesMax);
      const { entries } = prepareViewEntries(author, stored.map((e) => decodeEntry(e.bytes)));
      const relevant = entries.filter((e) => worldKinds.has(e.record.kind!.$case));
      const rejected = await store.getStates(relevant.map((e) => rejectionKey(author, e.seq)));
      relevant.forEach((e, i) => {
        if (rejected[i] === undefined) builder.add({ at: { author, seq: e.seq, hlc: e.hlc.toString() }, record: e.record });
      });
      if (stored.length < Math.min(rangeEntriesMax, seq - from + 1)) break; // the log ends early: the caller checked the basis
    }
  }
  return builder.build(options.creditPolicy);
}
