import { LeaseOutcome, type DrawOrder, type EvaluationOutcome, type EvaluationSession } from '../../gen/tongxing/records/v1/records.js';
import { LimitError } from '../errors.js';
import { drawListedExpertsMax } from '../limits.js';
import { cityOf } from './city.js';
import { candidatesFor } from './eligibility.js';
import { seededShuffle } from './shuffle.js';
import type { ExpertWorld } from './world.js';

// The draw and the walk through it. The draw is the candidates of each
// requirement, sorted by ref and shuffled with the revealed seed (stream =
// requirement index). The walk then fills the seats: requirement by
// requirement, the next candidate in drawn order that was not tried before in
// this session and whose city has quota left is asked for a lease; a refusal
// or an unreachable home node moves on to the next. Both are pure functions of
// the records, so an auditor replays them step by step.

/** The drawn order per requirement. Throws LimitError past drawListedExpertsMax listed experts. */
export function drawOrders(session: EvaluationSession, seed: Uint8Array, world: ExpertWorld): DrawOrder[] {
  const lists = candidatesFor(session, world);
  const listed = lists.reduce((sum, l) => sum + l.candidates.length + l.excluded.length, 0);
  if (listed > drawListedExpertsMax) {
    throw new LimitError(`the draw would list ${listed} experts (candidates and exclusions); drawListedExpertsMax ${drawListedExpertsMax}`);
  }
  return lists.map((list, index) => ({ expertRefs: seededShuffle(list.candidates, seed, index), excluded: list.excluded }));
}

export interface Attempt {
  readonly requirementIndex: number;
  readonly expertRef: string;
}

export interface Seat extends Attempt {
  readonly homeNode: string;
  readonly leaseSeq: number;
}

export interface PanelState {
  /** Granted seats, in the order they were filled. */
  readonly seats: Seat[];
  /** Refs already asked in this session (any outcome): never asked twice. */
  readonly tried: Set<string>;
  /** Seats still empty, per requirement. */
  readonly open: number[];
  /** Granted seats per city (cityOf). */
  readonly perCity: Map<string, number>;
}

/** The panel after `outcomes`, taken in the order the host recorded them. */
export function replayOutcomes(session: EvaluationSession, outcomes: readonly EvaluationOutcome[], regionOf: (ref: string) => string): PanelState {
  const state: PanelState = { seats: [], tried: new Set(), open: session.requirements.map((r) => r.count), perCity: new Map() };
  for (const outcome of outcomes) {
    state.tried.add(outcome.expertRef);
    if (outcome.outcome !== LeaseOutcome.LEASE_OUTCOME_GRANTED) continue;
    state.seats.push({
      requirementIndex: outcome.requirementIndex,
      expertRef: outcome.expertRef,
      homeNode: Buffer.from(outcome.homeNode).toString('hex'),
      leaseSeq: Number(outcome.leaseSeq),
    });
    state.open[outcome.requirementIndex] = (state.open[outcome.requirementIndex] ?? 0) - 1;
    const city = cityOf(regionOf(outcome.expertRef));
    state.perCity.set(city, (state.perCity.get(city) ?? 0) + 1);
  }
  return state;
}

function quotaLeft(session: EvaluationSession, state: PanelState, region: string): boolean {
  const city = cityOf(region);
  const quota = session.cityQuotas.find((q) => cityOf(q.regionCode) === city);
  return quota === undefined || (state.perCity.get(city) ?? 0) < quota.expertsMax;
}

/** The next lease to ask for, or undefined when every seat is filled or no candidate is left. */
export function nextAttempt(session: EvaluationSession, orders: readonly DrawOrder[], state: PanelState, regionOf: (ref: string) => string): Attempt | undefined {
  for (const [requirementIndex, order] of orders.entries()) {
    if ((state.open[requirementIndex] ?? 0) <= 0) continue;
    const expertRef = order.expertRefs.find((ref) => !state.tried.has(ref) && quotaLeft(session, state, regionOf(ref)));
    if (expertRef !== undefined) return { requirementIndex, expertRef };
  }
  return undefined;
}
