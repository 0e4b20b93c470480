import type { DrawAttempt, PanelSeat } from '../../gen/tongxing/api/v1/experts.js';
import { EvaluationDraw, EvaluationOutcome, EvaluationScore, EvaluationSession, LeaseOutcome } from '../../gen/tongxing/records/v1/records.js';
import { NotFoundError, ValidationError } from '../../federation/errors.js';
import { toHex } from '../../federation/log/entry.js';
import { requireIdentifier } from '../../federation/records/validate.js';
import { evaluationKey, evaluationPrefix, type EvaluationView } from '../../federation/views/evaluation.js';
import { decodeView, type Provenance } from '../../federation/views/provenance.js';
import type { ApiContext } from './service.js';

// How EvaluationService finds sessions in the views and shows what they hold.

/** Sessions with one id at different hosts that a lookup without host lists. */
const sessionHostsListedMax = 16;

export interface FoundSession {
  readonly host: string;
  readonly view: EvaluationView;
}

export interface SessionParts {
  readonly session: EvaluationSession;
  readonly draw: EvaluationDraw | undefined;
  readonly outcomes: Array<{ outcome: EvaluationOutcome; at: Provenance }>;
  readonly scores: Array<{ score: EvaluationScore; at: Provenance; expertRef: string }>;
}

export function partsOf(view: EvaluationView): SessionParts {
  return {
    session: EvaluationSession.fromJSON(view.session),
    draw: view.draw && EvaluationDraw.fromJSON(view.draw.value),
    outcomes: view.outcomes.map((o) => ({ outcome: EvaluationOutcome.fromJSON(o.value), at: o.at })),
    scores: view.scores.map((s) => ({ score: EvaluationScore.fromJSON(s.value), at: s.at, expertRef: s.expertRef })),
  };
}

export async function sessionViewAt(c: ApiContext, sessionId: string, host: string): Promise<EvaluationView | undefined> {
  return decodeView<EvaluationView>(await c.replica.store.getState(evaluationKey(sessionId, host)));
}

/** The session with this id at `hostBytes`, or at the only host that has one. */
export async function findSession(c: ApiContext, sessionId: string, hostBytes: Uint8Array): Promise<FoundSession | undefined> {
  requireIdentifier(sessionId, 'sessionId');
  if (hostBytes.length > 0) {
    if (hostBytes.length !== 32) throw new ValidationError('host', `${hostBytes.length} bytes, a node id is 32`);
    const host = toHex(hostBytes);
    const view = await sessionViewAt(c, sessionId, host);
    return view && { host, view };
  }
  const found = await c.replica.store.stateRange(evaluationPrefix(sessionId), sessionHostsListedMax);
  if (found.length > 1) {
    const hosts = found.map(([key]) => c.describe(key.slice(key.lastIndexOf('/') + 1)));
    throw new ValidationError('host', `${found.length}${found.length === sessionHostsListedMax ? '+' : ''} hosts have a session ${sessionId} (${hosts.join(', ')}): name the host`);
  }
  if (found.length === 0) return undefined;
  const [key, bytes] = found[0]!;
  return { host: key.slice(key.lastIndexOf('/') + 1), view: decodeView<EvaluationView>(bytes)! };
}

export async function requireSession(c: ApiContext, sessionId: string, hostBytes: Uint8Array): Promise<FoundSession> {
  const found = await findSession(c, sessionId, hostBytes);
  if (!found) throw new NotFoundError(`sessionId: no session ${sessionId} is known here${hostBytes.length > 0 ? ` at ${c.describe(toHex(hostBytes))}` : ''}`);
  return found;
}

/** What this store holds of each log: the seq of its latest stored head (not a write still being committed). */
export async function storedBasis(c: ApiContext): Promise<Map<string, number>> {
  return new Map((await c.replica.store.latestHeads()).map((h) => [toHex(h.head!.author), Number(h.head!.seq)]));
}

export function seatsOf(c: ApiContext, session: EvaluationSession, outcomes: readonly EvaluationOutcome[]): PanelSeat[] {
  return outcomes
    .filter((o) => o.outcome === LeaseOutcome.LEASE_OUTCOME_GRANTED)
    .map((o) => ({
      requirementIndex: o.requirementIndex,
      specialtyCode: session.requirements[o.requirementIndex]?.specialtyCode ?? '',
      expertRef: o.expertRef,
      homeNode: Buffer.from(o.homeNode),
      homeCity: c.cityOf(toHex(o.homeNode)),
      leaseSeq: o.leaseSeq,
    }));
}

export const attemptOf = (c: ApiContext, o: { outcome: EvaluationOutcome; at: Provenance }): DrawAttempt => ({
  outcome: o.outcome,
  recorded: c.provenance(o.at),
  homeCity: c.cityOf(toHex(o.outcome.homeNode)),
});
