import { Exclusion, ExpertStatus, type CreditPolicy, type EvaluationSession } from '../../gen/tongxing/records/v1/records.js';
import { lowCredit } from '../credit/experts.js';
import { avoidanceConflicts } from './avoidance.js';
import { sameCity } from './city.js';
import { availableFor, overlaps, slotOf } from './lease.js';
import { servesRequirement } from './specialty.js';
import { restrictingSanctions, type ExpertState, type ExpertWorld } from './world.js';

// Who may be drawn (docs/DOMAIN.md, "Expert avoidance"): an expert whose specialty
// serves the requirement, active, not sanctioned at the start of the slot, with a
// credit index that day not under the policy's expert threshold, with
// no avoidance conflict, from another city when the session asks for that,
// available for the whole slot, and not already leased for an overlapping slot.
// Every expert with a matching specialty is either a candidate or excluded with
// one reason (the first that applies, in the order above), so a draw record
// says why each one was left out.

export interface RequirementCandidates {
  /** Sorted by ref (UTF-16 code units, the same as bytes for refs' ASCII). */
  readonly candidates: string[];
  readonly excluded: Array<{ readonly expertRef: string; readonly reason: Exclusion }>;
}

/** Why `state` may not sit on the session's panel, or undefined when it may. */
export function exclusionOf(state: ExpertState, session: EvaluationSession, creditPolicy?: CreditPolicy): Exclusion | undefined {
  const window = slotOf(session.window!);
  const { profile } = state.expert;
  if (profile.status !== ExpertStatus.EXPERT_STATUS_ACTIVE) return Exclusion.EXCLUSION_PAUSED;
  if (restrictingSanctions(state, window.fromMs).length > 0) return Exclusion.EXCLUSION_SANCTIONED;
  if (creditPolicy && lowCredit(state, window.fromMs, creditPolicy)) return Exclusion.EXCLUSION_LOW_CREDIT;
  if (avoidanceConflicts(profile, session).length > 0) return Exclusion.EXCLUSION_AVOIDANCE;
  if (session.otherCitiesOnly && sameCity(profile.regionCode, session.hostRegionCode)) return Exclusion.EXCLUSION_SAME_CITY;
  if (!availableFor(state.expert, window)) return Exclusion.EXCLUSION_UNAVAILABLE;
  if (state.leases.some((grant) => overlaps(grant, window))) return Exclusion.EXCLUSION_LEASED;
  return undefined;
}

const byRef = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Per requirement, in session order: the candidates and the excluded, both sorted by ref. */
export function candidatesFor(session: EvaluationSession, world: ExpertWorld): RequirementCandidates[] {
  const refs = [...world.experts.keys()].sort(byRef);
  const exclusions = new Map<string, Exclusion | undefined>();
  return session.requirements.map((requirement) => {
    const candidates: string[] = [];
    const excluded: RequirementCandidates['excluded'] = [];
    for (const ref of refs) {
      const state = world.experts.get(ref)!;
      if (!state.expert.profile.specialtyCodes.some((code) => servesRequirement(code, requirement.specialtyCode))) continue;
      if (!exclusions.has(ref)) exclusions.set(ref, exclusionOf(state, session, world.creditPolicy));
      const reason = exclusions.get(ref);
      if (reason === undefined) candidates.push(ref);
      else excluded.push({ expertRef: ref, reason });
    }
    return { candidates, excluded };
  });
}
