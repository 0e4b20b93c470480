import type { DrawAttempt, DrawExpertsRequest, DrawExpertsResponse } from '../../gen/tongxing/api/v1/experts.js';
import { LeaseOutcome, type CreditPolicy, type EvaluationDraw, type EvaluationOutcome, type EvaluationSession } from '../../gen/tongxing/records/v1/records.js';
import { MembershipError, NotFoundError, PreconditionError } from '../../federation/errors.js';
import { basisFromPositions, basisToPositions, readWorld, type Basis } from '../../federation/experts/basis.js';
import { drawOrders, nextAttempt, replayOutcomes } from '../../federation/experts/draw.js';
import { slotOf } from '../../federation/experts/lease.js';
import type { ExpertWorld } from '../../federation/experts/world.js';
import { creditPolicyForSession } from '../../federation/credit/policy.js';
import { freshness } from '../../federation/freshness.js';
import { hlcWallMs } from '../../federation/log/hlc.js';
import { requireIdentifier } from '../../federation/records/validate.js';
import { evaluationKey, type EvaluationView } from '../../federation/views/evaluation.js';
import type { Provenance } from '../../federation/views/provenance.js';
import { LeaseCallError, NotHomeNodeError, UnknownExpertError, type LeaseAnswer, type LeaseRequest } from '../peer/evaluation.js';
import { attemptOf, findSession, partsOf, seatsOf, sessionViewAt, storedBasis, type SessionParts } from './evaluation-sessions.js';
import { expertsRuntime, type EvaluationApiContext } from './experts-runtime.js';

// DrawExperts at the host: compute the candidates from this node's logs at a
// basis it records, reveal the seed with the seeded order (one draw record),
// then walk the order asking each expert's home node for a lease and record
// every outcome. An interrupted draw resumes from the recorded outcomes.

export async function drawExperts(c: EvaluationApiContext, request: DrawExpertsRequest): Promise<DrawExpertsResponse> {
  requireIdentifier(request.sessionId, 'sessionId');
  const self = c.replica.nodeId;
  return c.serial.run(evaluationKey(request.sessionId, self), async () => {
    const view = await hostedSession(c, request.sessionId);
    const parts = partsOf(view);
    const { session } = parts;
    const nowMs = c.clock.nowMs();
    if (nowMs >= Number(session.window!.fromMs)) throw new PreconditionError(`sessionId: the slot of session ${session.sessionId} has started; too late to draw`);
    const creditPolicy = drawCreditPolicy(c, view.created, session);
    const { draw, drawn, world } = parts.draw ? await resumedDraw(c, parts.draw, view.draw!.at, creditPolicy) : await recordDraw(c, session, nowMs, creditPolicy);
    const { outcomes, attempts } = await walkDraw(c, session, draw, world, parts.outcomes);
    const shortfall = replayOutcomes(session, outcomes, regionIn(world)).open.map((n) => Math.max(0, n));
    return {
      draw: c.provenance(drawn),
      panel: seatsOf(c, session, outcomes),
      attempts,
      complete: shortfall.every((n) => n === 0),
      shortfall,
    };
  });
}

/** The session this node hosts with this id; refused when another host has it, or none does. */
async function hostedSession(c: EvaluationApiContext, sessionId: string): Promise<EvaluationView> {
  const view = await sessionViewAt(c, sessionId, c.replica.nodeId);
  if (view) return view;
  const elsewhere = await findSession(c, sessionId, Buffer.alloc(0)).catch(() => undefined);
  if (elsewhere) throw new PreconditionError(`sessionId: session ${sessionId} is hosted at ${c.describe(elsewhere.host)}; only its host draws`);
  throw new NotFoundError(`sessionId: this node hosts no session ${sessionId}`);
}

interface Drawn {
  readonly draw: EvaluationDraw;
  readonly drawn: Provenance;
  readonly world: ExpertWorld;
}

const excludedBy = (c: EvaluationApiContext) => (author: string) => c.replica.isQuarantined(author);

/** The credit policy whose expert threshold this session's draw applies (federation/credit/policy.ts), for the host and auditors alike. */
export function drawCreditPolicy(c: EvaluationApiContext, created: Provenance, session: EvaluationSession): CreditPolicy {
  return creditPolicyForSession(c.replica.governance, hlcWallMs(BigInt(created.hlc)), Number(session.window!.fromMs));
}

/** Computes the draw at the basis this store holds now and records it (revealing the seed). */
async function recordDraw(c: EvaluationApiContext, session: EvaluationSession, nowMs: number, creditPolicy: CreditPolicy): Promise<Drawn> {
  const excluded = excludedBy(c);
  const seed = await expertsRuntime(c).privateStore.seed(session.sessionId);
  if (!seed) throw new PreconditionError(`sessionId: this node no longer has the seed of session ${session.sessionId} (store restored without private state?): open a new session`);
  // Fails closed like a sanctions check: a member whose data is too old may have sanctioned one of the candidates.
  const stale = freshness(c.replica, nowMs, c.freshnessBudgetMs).filter((f) => f.stale && !excluded(f.nodeId));
  if (stale.length > 0) {
    const which = stale.map((f) => `${c.describe(f.nodeId)} ${f.ageMs === undefined ? 'never heard' : `${f.ageMs} ms old`}`);
    throw new PreconditionError(`cannot draw: sanctions data of ${which.join(', ')} is beyond the freshness budget ${c.freshnessBudgetMs} ms`);
  }
  const basis: Basis = await storedBasis(c);
  const world = await readWorld(c.replica.store, basis, { excluded, creditPolicy });
  const draw: EvaluationDraw = { sessionId: session.sessionId, seed: Buffer.from(seed), basis: basisToPositions(basis), orders: drawOrders(session, seed, world) };
  const drawn = await c.replica.write({ kind: { $case: 'evaluationDraw', value: draw } });
  return { draw, drawn, world };
}

/** Resuming an interrupted draw: the same world, read again from the recorded basis. */
async function resumedDraw(c: EvaluationApiContext, draw: EvaluationDraw, drawn: Provenance, creditPolicy: CreditPolicy): Promise<Drawn> {
  return { draw, drawn, world: await readWorld(c.replica.store, basisFromPositions(draw.basis), { excluded: excludedBy(c), creditPolicy }) };
}

const regionIn = (world: ExpertWorld) => (ref: string) => world.experts.get(ref)?.expert.profile.regionCode ?? '';

/** Asks home nodes in the drawn order until the panel is full or the order exhausted, recording each outcome before the next ask. */
async function walkDraw(
  c: EvaluationApiContext,
  session: EvaluationSession,
  draw: EvaluationDraw,
  world: ExpertWorld,
  recorded: SessionParts['outcomes'],
): Promise<{ outcomes: EvaluationOutcome[]; attempts: DrawAttempt[] }> {
  const regionOf = regionIn(world);
  const outcomes = recorded.map((o) => o.outcome);
  const attempts: DrawAttempt[] = recorded.map((o) => attemptOf(c, o));
  const slot = slotOf(session.window!);
  for (;;) {
    const next = nextAttempt(session, draw.orders, replayOutcomes(session, outcomes, regionOf), regionOf);
    if (!next) break;
    const home = world.experts.get(next.expertRef)!.expert.home.author;
    const { answer, unreachable } = await askHome(c, home, { sessionId: session.sessionId, expertRef: next.expertRef, slot, projectCode: session.projectCode });
    const outcome: EvaluationOutcome = {
      sessionId: session.sessionId,
      requirementIndex: next.requirementIndex,
      expertRef: next.expertRef,
      outcome: answer === undefined ? LeaseOutcome.LEASE_OUTCOME_UNREACHABLE : answer.granted ? LeaseOutcome.LEASE_OUTCOME_GRANTED : LeaseOutcome.LEASE_OUTCOME_REFUSED,
      reason: (unreachable ?? answer?.refusalReason ?? '').slice(0, 500),
      homeNode: Buffer.from(home, 'hex'),
      leaseSeq: BigInt(answer?.leaseSeq ?? 0),
    };
    const at = await c.replica.write({ kind: { $case: 'evaluationOutcome', value: outcome } });
    outcomes.push(outcome);
    attempts.push(attemptOf(c, { outcome, at }));
  }
  return { outcomes, attempts };
}

/** Asks the home node: this node's own desk, or its peer service. Never throws: no decision is an unreachable outcome. */
async function askHome(c: EvaluationApiContext, home: string, request: LeaseRequest): Promise<{ answer?: LeaseAnswer; unreachable?: string }> {
  const runtime = expertsRuntime(c);
  const self = c.replica.nodeId;
  try {
    if (home === self) return { answer: await runtime.desk.request(self, request) };
    if (!runtime.leaseClient) return { unreachable: 'this node has no lease client: only experts homed here can be leased' };
    return { answer: await runtime.leaseClient.requestLease(home, request) };
  } catch (error) {
    const noDecision = error instanceof LeaseCallError || error instanceof NotHomeNodeError || error instanceof UnknownExpertError || error instanceof MembershipError;
    if (noDecision) return { unreachable: error.message };
    throw error;
  }
}
