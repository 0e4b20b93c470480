import { ExpertStatus, type ExpertLease, type Period } from '../../gen/tongxing/records/v1/records.js';
import type { Expert } from '../views/expert.js';
import type { Provenance } from '../views/provenance.js';

// Leases: an expert's home node is the single writer of its reservations, so
// two hosts drawing the same expert for overlapping slots cannot both win. The
// home node decides one request per expert at a time (node/peer/evaluation.ts
// serialises them) against the grants already in its own log; the views
// reject an overlapping grant too, so even a faulty home node's double booking
// counts for nothing on any node.

/** A granted lease as the views keep it. */
export interface LeaseGrant {
  /** Node id (hex) of the host the slot is leased to. */
  readonly host: string;
  readonly sessionId: string;
  readonly fromMs: number;
  readonly untilMs: number;
  readonly at: Provenance;
}

export interface Slot {
  readonly fromMs: number;
  readonly untilMs: number;
}

export const slotOf = (period: Period): Slot => ({ fromMs: Number(period.fromMs), untilMs: Number(period.untilMs) });

/** Half-open intervals [from, until) overlap. */
export const overlaps = (a: Slot, b: Slot): boolean => a.fromMs < b.untilMs && b.fromMs < a.untilMs;

/** Some availability window covers the whole slot. No availability record: not available. */
export function availableFor(expert: Expert, slot: Slot): boolean {
  return (expert.availability?.windows ?? []).some((w) => Number(w.fromMs) <= slot.fromMs && slot.untilMs <= Number(w.untilMs));
}

/** Why a grant may not be added to `grants` (same expert, same home node), or undefined. */
export function grantConflict(grants: readonly LeaseGrant[], lease: { host: string; sessionId: string; slot: Slot }): string | undefined {
  for (const grant of grants) {
    if (grant.host === lease.host && grant.sessionId === lease.sessionId) {
      return `already leased to this host for session ${lease.sessionId} (log seq ${grant.at.seq})`;
    }
    if (overlaps(grant, lease.slot)) {
      return `already leased for an overlapping slot [${grant.fromMs}, ${grant.untilMs}) to session ${grant.sessionId} of ${grant.host.slice(0, 12)} (log seq ${grant.at.seq})`;
    }
  }
  return undefined;
}

export type LeaseDecision =
  | { readonly kind: 'existing'; readonly grant: LeaseGrant }
  | { readonly kind: 'grant' }
  | { readonly kind: 'refuse'; readonly reason: string };

/**
 * What the home node answers a host asking for `expert` over `slot`. Pure;
 * the caller holds the expert's serialisation lock, so `grants` is current.
 * Asking again for a session already granted answers the same grant.
 */
export function decideLease(expert: Expert, grants: readonly LeaseGrant[], request: { host: string; sessionId: string; slot: Slot }): LeaseDecision {
  const existing = grants.find((g) => g.host === request.host && g.sessionId === request.sessionId);
  if (existing) {
    if (existing.fromMs === request.slot.fromMs && existing.untilMs === request.slot.untilMs) return { kind: 'existing', grant: existing };
    return { kind: 'refuse', reason: `session ${request.sessionId} already holds a lease on this expert for another slot` };
  }
  if (expert.profile.status !== ExpertStatus.EXPERT_STATUS_ACTIVE) return { kind: 'refuse', reason: 'expert is paused' };
  if (!availableFor(expert, request.slot)) return { kind: 'refuse', reason: 'no availability window covers the slot' };
  const conflict = grantConflict(grants, request);
  if (conflict !== undefined) return { kind: 'refuse', reason: conflict };
  return { kind: 'grant' };
}

/** The record the home node writes for a decision. */
export function leaseRecord(expertRef: string, request: { host: string; sessionId: string; slot: Slot }, refusal?: string): ExpertLease {
  return {
    expertRef,
    host: Buffer.from(request.host, 'hex'),
    sessionId: request.sessionId,
    slot: { fromMs: BigInt(request.slot.fromMs), untilMs: BigInt(request.slot.untilMs) },
    granted: refusal === undefined,
    refusalReason: refusal ?? '',
  };
}
