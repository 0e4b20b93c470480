import { CreditLift, Record, type Record as RecordMessage } from '../../gen/tongxing/records/v1/records.js';
import { creditCases, headerOf, isCreditKind, type CreditFact, type CreditKind, type CreditLiftKind } from '../credit/facts.js';
import type { StateChange } from '../store/store.js';
import { keyPart, type Provenance } from './provenance.js';
import { subjectKey } from './sanction.js';

// Credit records, keyed by their author and the author's record id (a lift,
// valid only from the author, finds its record without a lookup; the
// author's log orders the lift after the record), and indexed by subject so
// a subject's records are one range read, never a scan. The subject key is
// the sanctions' (uscc:CODE, expert:REF).

export const creditKey = (author: string, recordId: string): string => `view/credit/${author}/${keyPart(recordId)}`;

/** Index entry (empty value): credit records by subject. */
export const creditSubjectIndexKey = (subject: string, author: string, recordId: string): string =>
  `view/credit-subject/${keyPart(subject)}/${author}/${keyPart(recordId)}`;

export const creditSubjectPrefix = (subject: string): string => `view/credit-subject/${keyPart(subject)}/`;

/** The record key an index entry under `creditSubjectPrefix(subject)` points at. */
export function creditKeyOfIndex(subject: string, indexKey: string): string {
  const [author, recordId] = indexKey.slice(creditSubjectPrefix(subject).length).split('/') as [string, string];
  return `view/credit/${author}/${recordId}`;
}

export interface CreditView {
  readonly record: unknown; // Record JSON (one of the credit kinds)
  readonly recorded: Provenance;
  readonly subject: string;
  readonly lift?: { readonly lift: unknown; readonly lifted: Provenance }; // CreditLift JSON
}

/** A record id names one credit record of its author, recorded once. */
export type CreditRecordRefusal = { readonly refusal: 'already-recorded'; readonly recorded: Provenance };

export function creditRecordRefusal(view: CreditView | undefined): CreditRecordRefusal | undefined {
  return view && { refusal: 'already-recorded', recorded: view.recorded };
}

/** An author lifts a credit record it recorded (its log orders the record first), once. */
export type CreditLiftRefusal = { readonly refusal: 'not-recorded' } | { readonly refusal: 'already-lifted'; readonly lifted: Provenance };

export function creditLiftRefusal(view: CreditView | undefined): CreditLiftRefusal | undefined {
  if (!view) return { refusal: 'not-recorded' };
  return view.lift && { refusal: 'already-lifted', lifted: view.lift.lifted };
}

/** The fact the index reads from a view. */
export function creditFactOf(view: CreditView): CreditFact {
  const kind = Record.fromJSON(view.record).kind;
  if (!isCreditKind(kind)) throw new Error(`credit view of ${view.recorded.author}/${view.recorded.seq} holds no credit record`);
  const lift = view.lift && CreditLift.fromJSON(view.lift.lift);
  return { at: view.recorded, record: kind, lift: lift && view.lift && { effectiveAtMs: Number(lift.effectiveAtMs), at: view.lift.lifted, reason: lift.reason } };
}

type Kind = NonNullable<RecordMessage['kind']>;
export type CreditViewKind = CreditKind | CreditLiftKind;

export function isCreditViewKind(kind: Kind): kind is CreditViewKind {
  return kind.$case === 'creditLift' || creditCases.has(kind.$case);
}

/** The view key a credit record or lift reads and writes (for planViews' viewKeyOf). */
export function creditViewKey(kind: CreditViewKind, author: string): string {
  return creditKey(author, kind.$case === 'creditLift' ? kind.value.recordId : headerOf(kind).recordId);
}

export type CreditApplied = { readonly view: CreditView; readonly index: StateChange[] } | { readonly reject: string };

/** planViews' dispatch: the new view and its subject index entry, or why the record counts for nothing. */
export function applyCreditRecord(kind: CreditViewKind, current: CreditView | undefined, at: Provenance): CreditApplied {
  if (kind.$case === 'creditLift') {
    const refusal = creditLiftRefusal(current);
    if (refusal?.refusal === 'not-recorded') return { reject: `no credit record ${kind.value.recordId} recorded by this member to lift` };
    if (refusal?.refusal === 'already-lifted') return { reject: `credit record ${kind.value.recordId} is already lifted (log seq ${refusal.lifted.seq})` };
    return { view: { ...current!, lift: { lift: CreditLift.toJSON(kind.value), lifted: at } }, index: [] };
  }
  const header = headerOf(kind);
  const refusal = creditRecordRefusal(current);
  if (refusal) return { reject: `credit record id ${header.recordId} was already used by this member (log seq ${refusal.recorded.seq})` };
  const subject = subjectKey(header.subject);
  return {
    view: { record: Record.toJSON({ kind }), recorded: at, subject },
    index: [{ key: creditSubjectIndexKey(subject, at.author, header.recordId), value: new Uint8Array(0) }],
  };
}
