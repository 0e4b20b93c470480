import { SanctionIssue, SanctionLift, type SanctionSubject } from '../../gen/tongxing/records/v1/records.js';
import { keyPart, type Provenance } from './provenance.js';

// A sanction is keyed by its issuer and the issuer's sanction id, so a lift
// (only ever valid from the issuer) finds it without an index lookup, and
// the issuer's log order puts every lift after its issue.

export const sanctionKey = (issuer: string, sanctionId: string): string => `view/sanction/${issuer}/${keyPart(sanctionId)}`;

export function subjectKey(subject: SanctionSubject | undefined): string {
  const id = subject?.id;
  return id?.$case === 'uscc' ? `uscc:${id.value}` : `expert:${id?.value ?? ''}`;
}

/** Index entry (empty value): sanctions by subject. */
export const subjectIndexKey = (subject: string, issuer: string, sanctionId: string): string =>
  `view/subject/${keyPart(subject)}/${issuer}/${keyPart(sanctionId)}`;

export const subjectIndexPrefix = (subject: string): string => `view/subject/${keyPart(subject)}/`;

/** The sanction key an index entry under `subjectIndexPrefix(subject)` points at. */
export function sanctionKeyOfIndex(subject: string, indexKey: string): string {
  const [issuer, id] = indexKey.slice(subjectIndexPrefix(subject).length).split('/');
  return sanctionKey(issuer!, decodeURIComponent(id!));
}

export interface SanctionView {
  readonly issue: unknown; // SanctionIssue JSON
  readonly issued: Provenance;
  readonly lift?: { readonly lift: unknown; readonly lifted: Provenance };
}

export interface Sanction {
  readonly issue: SanctionIssue;
  readonly issued: Provenance;
  readonly lift?: { readonly lift: SanctionLift; readonly lifted: Provenance };
}

export function sanctionFromView(view: SanctionView): Sanction {
  return {
    issue: SanctionIssue.fromJSON(view.issue),
    issued: view.issued,
    lift: view.lift && { lift: SanctionLift.fromJSON(view.lift.lift), lifted: view.lift.lifted },
  };
}

/**
 * Why an issuer's issue of this sanction id does not count: an id names one
 * sanction of its issuer, issued once. The views reject such a record; the
 * client API refuses it before writing (and an import compares the sanction).
 */
export type IssueRefusal = { readonly refusal: 'already-issued'; readonly sanction: Sanction };

export function issueRefusal(view: SanctionView | undefined): IssueRefusal | undefined {
  return view && { refusal: 'already-issued', sanction: sanctionFromView(view) };
}

/**
 * Why an issuer's lift of this sanction id does not count: it lifts a
 * sanction it issued (its log orders the issue first), and only once.
 */
export type LiftRefusal = { readonly refusal: 'not-issued' } | { readonly refusal: 'already-lifted'; readonly lifted: Provenance };

export function liftRefusal(view: SanctionView | undefined): LiftRefusal | undefined {
  if (!view) return { refusal: 'not-issued' };
  return view.lift && { refusal: 'already-lifted', lifted: view.lift.lifted };
}

/**
 * Active at `atMs`: inside its restriction period [from, until) and not lifted
 * with effect at or before `atMs`. History is kept, so past times are answered too.
 */
export function isActive(sanction: Sanction, atMs: number): boolean {
  const period = sanction.issue.restrictionPeriod;
  if (!period || atMs < Number(period.fromMs) || atMs >= Number(period.untilMs)) return false;
  return !sanction.lift || atMs < Number(sanction.lift.lift.effectiveAtMs);
}
