import type { CreditPolicy } from '../../gen/tongxing/records/v1/records.js';
import type { ExpertState } from '../experts/world.js';
import { dayOf } from './day.js';
import { sanctionFactOf } from './facts.js';
import { creditIndex, type CreditIndexResult } from './index.js';
import { belowExpertThreshold } from './method.js';

// Experts with low credit are paused from draws (暂停抽取): an expert whose
// index on the day a slot starts is under the policy's expert threshold is
// excluded from that slot's draw. The host and every auditor compute it from
// the same world (the draw's basis) and the same policy.

/** The expert's index on the CST day containing `atMs`, from the world's records. */
export function expertIndex(state: ExpertState, atMs: number, policy: CreditPolicy): CreditIndexResult {
  return creditIndex(state.credit, state.sanctions.map((s) => sanctionFactOf(s)), dayOf(atMs), policy);
}

/** The index when it keeps the expert off a slot starting at `atMs`, else undefined. */
export function lowCredit(state: ExpertState, atMs: number, policy: CreditPolicy): CreditIndexResult | undefined {
  if (policy.expertThresholdHundredths === 0) return undefined;
  const index = expertIndex(state, atMs, policy);
  return belowExpertThreshold(policy, index.indexHundredths) ? index : undefined;
}
