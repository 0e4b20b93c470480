import { GroundsCategory, ListType, type RecognitionPolicy, type RecognitionRule, type SanctionOptOut } from '../../gen/tongxing/records/v1/records.js';
import { compareProvenance, keyPart, type Provenance } from './provenance.js';
import type { Sanction } from './sanction.js';

// Which sanctions a node enforces ("fail once, restricted everywhere", made
// auditable): its own, and any other member's that the alliance's recognition
// policy covers, unless this member opted out of that one decision with a
// signed, reasoned record every member can read.

/** List types by the names people and the CLI use for them (`--recognize bad-behaviour`, `sanction issue --list watch`). */
export const listTypeNames = {
  'serious-dishonesty': ListType.LIST_TYPE_SERIOUS_DISHONESTY,
  'bad-behaviour': ListType.LIST_TYPE_BAD_BEHAVIOUR,
  watch: ListType.LIST_TYPE_WATCH,
} as const;

/** Grounds categories by name (the cross-debarment grounds, and the rest). */
export const groundsNames = {
  fraud: GroundsCategory.GROUNDS_CATEGORY_FRAUD,
  corruption: GroundsCategory.GROUNDS_CATEGORY_CORRUPTION,
  collusion: GroundsCategory.GROUNDS_CATEGORY_COLLUSION,
  coercion: GroundsCategory.GROUNDS_CATEGORY_COERCION,
  other: GroundsCategory.GROUNDS_CATEGORY_OTHER,
} as const;

/** The name of an enum value in `names`; a value no name has (a newer peer's) is said as such. */
export const nameOf = <T extends Record<string, number>>(names: T, value: number): string =>
  Object.keys(names).find((name) => names[name] === value) ?? `unknown (${value})`;

const dayMs = 86_400_000;

/** A rule as people read it: "bad-behaviour, grounds fraud or corruption, restricted at least 180 days". */
export function describeRecognitionRule(rule: RecognitionRule): string {
  const grounds = rule.grounds.length === 0 ? 'any grounds' : `grounds ${rule.grounds.map((g) => nameOf(groundsNames, g)).join(' or ')}`;
  const minimum = rule.minRestrictionMs > 0n ? `, restricted at least ${Number(rule.minRestrictionMs) / dayMs} days` : '';
  return `${nameOf(listTypeNames, rule.listType)}, ${grounds}${minimum}`;
}

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
  return { recognised: true, reason: `recognised alliance-wide by rule ${index + 1} (${describeRecognitionRule(policy.rules[index]!)})` };
}
