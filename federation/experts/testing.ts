import type { Record } from '../../gen/tongxing/records/v1/records.js';
import { buildWorld, type ExpertWorld, type WorldEntry } from './world.js';

// Worlds for tests: records per author get seqs 1, 2, ... and increasing clocks in the order given.

export const homeA = 'a'.repeat(64);
export const homeB = 'b'.repeat(64);
export const homeC = 'c'.repeat(64);

export function worldEntries(records: Array<readonly [author: string, record: Record]>): WorldEntry[] {
  const seqs = new Map<string, number>();
  return records.map(([author, record], i) => {
    const seq = (seqs.get(author) ?? 0) + 1;
    seqs.set(author, seq);
    return { at: { author, seq, hlc: String(1000 + i) }, record };
  });
}

export function worldOf(records: Array<readonly [author: string, record: Record]>): ExpertWorld {
  return buildWorld(worldEntries(records));
}
