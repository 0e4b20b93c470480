import { Record } from '../../gen/tongxing/records/v1/records.js';
import type { StateChange } from '../store/store.js';
import type { ViewEntry } from '../views/apply.js';
import type { GovRecord } from './state.js';

// Governance records are kept beside the views, under view/gov/, so the
// alliance's state can be recomputed from them alone (they are few) and a
// view rebuild re-derives them like everything else.

export const govPrefix = 'view/gov/';
const govKey = (author: string, seq: number): string => `${govPrefix}${author}/${seq.toString().padStart(16, '0')}`;

export const isGovernanceEntry = (entry: ViewEntry): boolean =>
  entry.record.kind?.$case === 'governanceProposal' || entry.record.kind?.$case === 'governanceApproval';

export function govRecordChange(entry: ViewEntry): StateChange {
  const value = { hlc: entry.hlc.toString(), hash: Buffer.from(entry.hash).toString('hex'), record: Buffer.from(Record.encode(entry.record).finish()).toString('base64') };
  return { key: govKey(entry.author, entry.seq), value: Buffer.from(JSON.stringify(value)) };
}

export function decodeGovRecord(key: string, bytes: Uint8Array): GovRecord {
  const [author, seq] = key.slice(govPrefix.length).split('/') as [string, string];
  const value = JSON.parse(Buffer.from(bytes).toString('utf8')) as { hlc: string; hash: string; record: string };
  const kind = Record.decode(Buffer.from(value.record, 'base64')).kind;
  if (kind?.$case !== 'governanceProposal' && kind?.$case !== 'governanceApproval') throw new Error(`${key} holds no governance record`);
  return { author, seq: Number(seq), hlc: BigInt(value.hlc), hash: value.hash, record: kind };
}
