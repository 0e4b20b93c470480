// The records the console shows and sends, in proto3 JSON (docs/HTTP.md).

export interface Period { fromMs: string; untilMs: string }
export interface EntityProfile {
  uscc: string; legalName: string; roles: string[]; legalRepresentative: string; legalType: string; regionCode: string; registeredCapital: string; legalStatus: string;
}
export interface Provenance { author: string; authorCity: string; seq: string; hlc: string }
export interface SanctionIssue {
  sanctionId: string; subject: { uscc?: string; expertRef?: string; name: string }; listType: string; grounds: string; groundsCategory: string;
  decidingAuthority: string; documentCode: string; scope: string[]; restriction: string; restrictionPeriod?: Period; publicationPeriod?: Period; decidedAtMs: string;
}
export interface ActiveSanction { sanction: SanctionIssue; issued: Provenance; quarantined: boolean; recognised: boolean; recognition: string }
export interface MemberFreshness { nodeId: string; city: string; seq: string; ageMs: string; stale: boolean }
export interface SanctionCheck { verdict: string; sanctions: ActiveSanction[]; freshness: MemberFreshness[]; atMs: string; freshnessBudgetMs: string; evidence: string }
export interface EntityAnswer { found: boolean; profile?: EntityProfile; home?: Provenance; latest?: Provenance; observations: Provenance[] }

export const listTypes = ['LIST_TYPE_SERIOUS_DISHONESTY', 'LIST_TYPE_BAD_BEHAVIOUR', 'LIST_TYPE_WATCH'] as const;
export const groundsCategories = ['GROUNDS_CATEGORY_FRAUD', 'GROUNDS_CATEGORY_CORRUPTION', 'GROUNDS_CATEGORY_COLLUSION', 'GROUNDS_CATEGORY_COERCION', 'GROUNDS_CATEGORY_OTHER'] as const;
export const restrictions = ['RESTRICTION_BAN', 'RESTRICTION_SCORE_DEDUCTION', 'RESTRICTION_ALERT_ONLY'] as const;
export const liftReasons = ['LIFT_REASON_CREDIT_REPAIR', 'LIFT_REASON_APPEAL', 'LIFT_REASON_REVOCATION'] as const;

/** LIST_TYPE_SERIOUS_DISHONESTY -> serious dishonesty (the enum's words; the node's own vocabulary). */
export const spoken = (name: string | undefined, prefix: string): string => (name ?? '').replace(prefix, '').toLowerCase().replace(/_/g, ' ');

/** A USCC is 18 characters of digits and capital letters (GB 32100); anything else is looked up as a name. */
export const looksLikeUscc = (text: string): boolean => /^[0-9A-HJ-NPQRTUWXY]{18}$/.test(text.trim().toUpperCase());

/** The DER of a PEM block (the first), or the bytes themselves when they are not PEM. */
export function derOf(bytes: Uint8Array): Uint8Array {
  const text = new TextDecoder().decode(bytes);
  const body = /-----BEGIN [A-Z0-9 ]+-----([\s\S]+?)-----END/.exec(text)?.[1];
  if (body === undefined) return bytes;
  return Uint8Array.from(atob(body.replace(/\s+/g, '')), (c) => c.charCodeAt(0));
}
