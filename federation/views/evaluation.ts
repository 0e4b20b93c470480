import {
  EvaluationDraw,
  EvaluationOutcome,
  EvaluationScore,
  EvaluationSession,
  ExpertLease,
  LeaseOutcome,
  ScoreSheet,
  type Record,
} from '../../gen/tongxing/records/v1/records.js';
import { equalBytes, toHex } from '../log/entry.js';
import { hlcWallMs } from '../log/hlc.js';
import { grantConflict, slotOf, type LeaseGrant } from '../experts/lease.js';
import { checkScoreSignature } from '../experts/scores.js';
import { seedCommitment } from '../experts/shuffle.js';
import { keyPart, type Provenance } from './provenance.js';

// Remote evaluation views. A session and everything recorded about it (draw,
// lease outcomes, score sheets) live in the host's log, so they are keyed by
// session id and host and checked against the host's own earlier records:
// the same on every node, whatever the arrival order of other logs. Leases
// live in each home node's log, keyed by home node and expert; reading them
// picks the expert's home node (see federation/experts/world.ts).
//
// Each apply function returns the new view, or a reason to reject the record
// (stored under view/rejected/, the record then counts for nothing).

export const evaluationKey = (sessionId: string, host: string): string => `view/evaluation/${keyPart(sessionId)}/${host}`;
export const evaluationPrefix = (sessionId: string): string => `view/evaluation/${keyPart(sessionId)}/`;
export const leaseKey = (homeNode: string, expertRef: string): string => `view/lease/${homeNode}/${keyPart(expertRef)}`;

interface At<T> {
  readonly value: T;
  readonly at: Provenance;
}

export interface EvaluationView {
  readonly session: unknown; // EvaluationSession JSON
  readonly created: Provenance;
  readonly draw?: At<unknown>; // EvaluationDraw JSON
  readonly outcomes: Array<At<unknown>>; // EvaluationOutcome JSON, in log order
  readonly scores: Array<At<unknown> & { readonly expertRef: string }>; // EvaluationScore JSON
}

export interface LeaseView {
  readonly grants: LeaseGrant[];
}

export type Applied<V> = { readonly view: V } | { readonly reject: string };

/** A host uses each session id once: where the id was first recorded, if it was. */
export const sessionRecorded = (view: EvaluationView | undefined): Provenance | undefined => view?.created;

/** A session is recorded before its slot: its window starts after the time it is recorded. */
export const startsAfter = (session: EvaluationSession, recordedAtMs: number): boolean => Number(session.window!.fromMs) > recordedAtMs;

export function applyEvaluationSession(view: EvaluationView | undefined, at: Provenance, hlc: bigint, session: EvaluationSession): Applied<EvaluationView> {
  const used = sessionRecorded(view);
  if (used) return { reject: `session id ${session.sessionId} was already used by this host (log seq ${used.seq})` };
  const recordedAtMs = hlcWallMs(hlc);
  if (!startsAfter(session, recordedAtMs)) return { reject: `window starts at ${session.window!.fromMs}, not after the session was recorded (${recordedAtMs})` };
  return { view: { session: EvaluationSession.toJSON(session), created: at, outcomes: [], scores: [] } };
}

export function applyEvaluationDraw(view: EvaluationView | undefined, at: Provenance, draw: EvaluationDraw): Applied<EvaluationView> {
  if (!view) return { reject: `no session ${draw.sessionId} recorded by this host before the draw` };
  if (view.draw) return { reject: `session ${draw.sessionId} was already drawn (log seq ${view.draw.at.seq})` };
  const session = EvaluationSession.fromJSON(view.session);
  if (!equalBytes(seedCommitment(draw.seed), session.seedCommitment)) {
    return { reject: 'seed: SM3(seed) differs from the seed commitment of the session' };
  }
  if (draw.orders.length !== session.requirements.length) {
    return { reject: `orders: ${draw.orders.length} orders for ${session.requirements.length} requirements` };
  }
  const own = draw.basis.find((p) => toHex(p.author) === at.author);
  if (!own || Number(own.seq) < view.created.seq) {
    return { reject: `basis: must include this host's log at or after the session (seq ${view.created.seq})` };
  }
  return { view: { ...view, draw: { value: EvaluationDraw.toJSON(draw), at } } };
}

export function applyEvaluationOutcome(view: EvaluationView | undefined, at: Provenance, outcome: EvaluationOutcome): Applied<EvaluationView> {
  if (!view?.draw) return { reject: `no draw of session ${outcome.sessionId} recorded by this host before the outcome` };
  const draw = EvaluationDraw.fromJSON(view.draw.value);
  const order = draw.orders[outcome.requirementIndex];
  if (!order) return { reject: `requirementIndex ${outcome.requirementIndex}: the session has ${draw.orders.length} requirements` };
  if (!order.expertRefs.includes(outcome.expertRef)) {
    return { reject: `expertRef ${outcome.expertRef} is not a candidate of requirement ${outcome.requirementIndex}` };
  }
  const repeated = view.outcomes.some((o) => EvaluationOutcome.fromJSON(o.value).expertRef === outcome.expertRef);
  if (repeated) return { reject: `expertRef ${outcome.expertRef} was already tried in this session` };
  return { view: { ...view, outcomes: [...view.outcomes, { value: EvaluationOutcome.toJSON(outcome), at }] } };
}

/** The refs of the panel: every expert with a granted outcome. */
export function grantedRefs(view: EvaluationView): Set<string> {
  const refs = new Set<string>();
  for (const o of view.outcomes) {
    const outcome = EvaluationOutcome.fromJSON(o.value);
    if (outcome.outcome === LeaseOutcome.LEASE_OUTCOME_GRANTED) refs.add(outcome.expertRef);
  }
  return refs;
}

/**
 * Why a score sheet does not count for its session as the host's view holds
 * it (undefined: it counts): the session has a panel, the sheet is for this
 * host, its expert is on the panel and scores once, it scores every bidder and
 * only bidders, and the signature verifies. `field` is the path in the score.
 * The views reject such a record; the host's API refuses it before writing.
 */
export interface ScoreRefusal {
  readonly refusal: 'no-panel' | 'other-host' | 'not-on-panel' | 'already-scored' | 'invalid-sheet';
  readonly field: string;
  readonly reason: string;
}

export function scoreRefusal(view: EvaluationView | undefined, host: string, score: EvaluationScore, sheet: ScoreSheet): ScoreRefusal | undefined {
  const { sessionId, expertRef } = sheet;
  if (!view?.draw) return { refusal: 'no-panel', field: 'sheet.sessionId', reason: `no draw of session ${sessionId} recorded by this host before the scores` };
  if (toHex(sheet.host) !== host) return { refusal: 'other-host', field: 'sheet.host', reason: 'the sheet was signed for another host' };
  if (!grantedRefs(view).has(expertRef)) return { refusal: 'not-on-panel', field: 'sheet.expertRef', reason: `${expertRef} is not on the panel of session ${sessionId}` };
  if (view.scores.some((s) => s.expertRef === expertRef)) {
    return { refusal: 'already-scored', field: 'sheet.expertRef', reason: `${expertRef} already submitted scores for session ${sessionId}` };
  }
  const session = EvaluationSession.fromJSON(view.session);
  const bidders = new Set(session.bidderUsccs);
  const scored = new Set(sheet.scores.map((s) => s.bidderUscc));
  const missing = session.bidderUsccs.find((b) => !scored.has(b));
  if (missing !== undefined) return { refusal: 'invalid-sheet', field: 'sheet.scores', reason: `no score for bidder ${missing}` };
  const stranger = sheet.scores.find((s) => !bidders.has(s.bidderUscc));
  if (stranger) return { refusal: 'invalid-sheet', field: 'sheet.scores', reason: `${stranger.bidderUscc} is not a bidder of session ${sessionId}` };
  const signature = checkScoreSignature(score);
  if (!signature.ok) {
    // The check says "field: reason" (certificateDer or signature).
    const [field, ...reason] = signature.reason.split(': ');
    return { refusal: 'invalid-sheet', field: field!, reason: reason.join(': ') };
  }
  return undefined;
}

export function applyEvaluationScore(view: EvaluationView | undefined, at: Provenance, score: EvaluationScore, sheet: ScoreSheet): Applied<EvaluationView> {
  const refusal = scoreRefusal(view, at.author, score, sheet);
  if (refusal) return { reject: `${refusal.field}: ${refusal.reason}` };
  return { view: { ...view!, scores: [...view!.scores, { value: EvaluationScore.toJSON(score), at, expertRef: sheet.expertRef }] } };
}

/** Only grants are kept; refusals stay in the home node's log for audit. */
export function applyExpertLease(view: LeaseView | undefined, at: Provenance, lease: ExpertLease): Applied<LeaseView> | undefined {
  if (!lease.granted) return undefined;
  const grants = view?.grants ?? [];
  const request = { host: toHex(lease.host), sessionId: lease.sessionId, slot: slotOf(lease.slot!) };
  const conflict = grantConflict(grants, request);
  if (conflict !== undefined) return { reject: `grant ${conflict}` };
  const grant: LeaseGrant = { host: request.host, sessionId: request.sessionId, fromMs: request.slot.fromMs, untilMs: request.slot.untilMs, at };
  return { view: { grants: [...grants, grant] } };
}

type Kind = NonNullable<Record['kind']>;
export type EvaluationKind = Extract<Kind, { $case: 'evaluationSession' | 'evaluationDraw' | 'evaluationOutcome' | 'evaluationScore' | 'expertLease' }>;

const evaluationCases: ReadonlySet<string> = new Set(['evaluationSession', 'evaluationDraw', 'evaluationOutcome', 'evaluationScore', 'expertLease']);

export function isEvaluationKind(kind: Kind): kind is EvaluationKind {
  return evaluationCases.has(kind.$case);
}

/** The view key an evaluation record reads and writes (for planViews' viewKeyOf). */
export function evaluationViewKey(kind: EvaluationKind, author: string): string {
  switch (kind.$case) {
    case 'expertLease':
      return leaseKey(author, kind.value.expertRef);
    case 'evaluationScore':
      return evaluationKey(ScoreSheet.decode(kind.value.sheet).sessionId, author);
    default:
      return evaluationKey(kind.value.sessionId, author);
  }
}

/** planViews' dispatch: the new view, a rejection, or undefined for no change (a lease refusal). */
export function applyEvaluationRecord(kind: EvaluationKind, current: unknown, at: Provenance, hlc: bigint): Applied<EvaluationView | LeaseView> | undefined {
  const view = current as EvaluationView | undefined;
  switch (kind.$case) {
    case 'evaluationSession':
      return applyEvaluationSession(view, at, hlc, kind.value);
    case 'evaluationDraw':
      return applyEvaluationDraw(view, at, kind.value);
    case 'evaluationOutcome':
      return applyEvaluationOutcome(view, at, kind.value);
    case 'evaluationScore':
      return applyEvaluationScore(view, at, kind.value, ScoreSheet.decode(kind.value.sheet)); // validated before the views run
    case 'expertLease':
      return applyExpertLease(current as LeaseView | undefined, at, kind.value);
  }
}
