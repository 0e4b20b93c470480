import { ListType, type RecognitionPolicy, type SanctionOptOut } from '../../gen/tongxing/records/v1/records.js';
import { compareProvenance, keyPart, type Provenance } from './provenance.js';
import type { Sanction } from './sanction.js';

// Which sanctions a node enforces ("fail once, restricted everywhere", made
// auditable): its own, and any other member's that the alliance's recognition
// policy covers, unless this member opted out of that one decision with a
// signed, reasoned record every member can read.

/** Every list type, any grounds and period: what an alliance recognises unless its founders say otherwise. */
export const recogniseEveryList: RecognitionPolicy = {
  rules: [ListType.LIST_TYPE_SERIOUS_DISHONESTY, ListType.LIST_TYPE_BAD_BEHAVIOUR, ListType.LIST_TYPE_WATCH].map((listType) => ({ listType, grounds: [], minRestrictionMs: 0n })),
};

/** A member's latest word on one sanction of another member. */
export const optOutKey = (issuer: string, sanctionId: string, member: string): string => `view/optout/${issuer}/${keyPart(sanctionId)}/${member}`;

export interface OptOutView {
  readonly at: Provenance;
  readonly reason: string;
  readonly withdrawn: boolean;
}

/** The latest opt-out (or withdrawal) by provenance wins, whatever the arrival order. */
export function applyOptOut(current: OptOutView | undefined, at: Provenance, optOut: SanctionOptOut): OptOutView {
  if (current && compareProvenance(current.at, at) >= 0) return current;
  return { at, reason: optOut.reason, withdrawn: optOut.withdrawn };
}

export interface Recognition {
  readonly recognised: boolean;
  /** Why, for the platform and for audit: "issued here", the rule that covers it, the opt-out, or that no rule does. */
  readonly reason: string;
}

const dayMs = 86_400_000;

/**
 * Whether node `self` enforces `sanction`. Without a policy (an alliance with
 * no governance) every sanction is enforced everywhere.
 */
export function recognise(sanction: Sanction, self: string, policy: RecognitionPolicy | undefined, optOut: OptOutView | undefined): Recognition {
  if (sanction.issued.author === self) return { recognised: true, reason: 'issued by this member' };
  if (optOut && !optOut.withdrawn) return { recognised: false, reason: `this member opted out of it: ${optOut.reason}` };
  if (!policy) return { recognised: true, reason: 'every sanction is enforced alliance-wide (no recognition policy)' };
  const issue = sanction.issue;
  const period = issue.restrictionPeriod;
  const lengthMs = period ? Number(period.untilMs - period.fromMs) : 0;
  const index = policy.rules.findIndex(
    (rule) =>
      rule.listType === issue.listType &&
      (rule.grounds.length === 0 || rule.grounds.includes(issue.groundsCategory)) &&
      lengthMs >= Number(rule.minRestrictionMs),
  );
  if (index < 0) return { recognised: false, reason: "no rule of the alliance's recognition policy covers it: it binds its issuer only" };
  const rule = policy.rules[index]!;
  const minimum = rule.minRestrictionMs > 0n ? `, restriction of at least ${Number(rule.minRestrictionMs) / dayMs} days` : '';
  return { recognised: true, reason: `recognised alliance-wide by rule ${index + 1} (list type ${rule.listType}${rule.grounds.length > 0 ? `, grounds ${rule.grounds.join('/')}` : ''}${minimum})` };
}
