import type { CreditPolicy } from '../../gen/tongxing/records/v1/records.js';
import { epochAt, type GovernanceState } from '../governance/state.js';
import { hlcPack } from '../log/hlc.js';
import { cutoffMs, dayOf } from './day.js';
import { defaultCreditPolicy } from './method.js';

// Which credit policy an answer uses: the one in force at a time, as
// governance decides it (the epochs), or the genesis default without
// governance. Stated once so an index, a bonus, a tender check and a draw's
// threshold cannot pick different versions for the same moment.

/** The policy in force at `atMs` (an epoch opened strictly before it). */
export function creditPolicyAt(governance: Pick<GovernanceState, 'epochs'> | undefined, atMs: number): CreditPolicy {
  return governance ? epochAt(governance, hlcPack(atMs, 0)).creditPolicy : defaultCreditPolicy;
}

/** The policy of an index for `day`: the one in force at its cut-off, or now for a day not begun yet. */
export function creditPolicyForDay(governance: Pick<GovernanceState, 'epochs'> | undefined, day: string, nowMs: number): CreditPolicy {
  return creditPolicyAt(governance, Math.min(cutoffMs(day), nowMs));
}

/**
 * The policy a draw pauses experts by: in force at the cut-off of the slot's
 * day, or when the session was recorded if that was earlier. Both are in the
 * records, so the host and any auditor choose the same one.
 */
export function creditPolicyForSession(governance: Pick<GovernanceState, 'epochs'> | undefined, sessionRecordedMs: number, slotFromMs: number): CreditPolicy {
  return creditPolicyAt(governance, Math.min(cutoffMs(dayOf(slotFromMs)), sessionRecordedMs));
}
