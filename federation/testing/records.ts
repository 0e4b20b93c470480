import {
  GroundsCategory,
  LegalRole,
  LiftReason,
  ListType,
  Restriction,
  type EntityProfile,
  type Record,
  type SanctionIssue,
  type SanctionLift,
} from '../../gen/tongxing/records/v1/records.js';

// Valid records for tests, benchmarks, the demo and the simulator.

/** Valid USCCs from GB 32100-2015 and DOMAIN.md. */
export const sampleUsccs = ['91350100M000100Y43', '91110000600037341L', '91310110666007217T', '9144030071526726XG'] as const;

const usccAlphabet = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const usccWeights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
const orgWeights = [3, 7, 9, 10, 5, 8, 4, 2];

/** A valid USCC for any number (a company under "9" / "1", region 530100), for many distinct subjects. */
export function usccFor(n: number): string {
  const org8 = n.toString().padStart(8, '0').slice(-8);
  const orgSum = [...org8].reduce((sum, ch, i) => sum + Number(ch) * orgWeights[i]!, 0);
  const orgCheck = 11 - (orgSum % 11);
  const body = `91530100${org8}${orgCheck === 10 ? 'X' : orgCheck === 11 ? '0' : String(orgCheck)}`;
  const sum = [...body].reduce((s, ch, i) => s + usccAlphabet.indexOf(ch) * usccWeights[i]!, 0);
  return body + usccAlphabet[(31 - (sum % 31)) % 31]!;
}

export function entityProfile(uscc: string, legalName = `Company ${uscc.slice(8, 17)}`): EntityProfile {
  return {
    uscc,
    legalName,
    roles: [LegalRole.LEGAL_ROLE_BIDDER],
    legalRepresentative: 'Zhang San',
    legalType: 'limited company',
    regionCode: '530100',
    registeredCapital: '10000000',
    legalStatus: 'active',
    usccOverride: undefined,
  };
}

export function entityRegistration(uscc: string, legalName?: string): Record {
  return { kind: { $case: 'entityRegistration', value: { profile: entityProfile(uscc, legalName) } } };
}

const day = 86_400_000;

export function sanctionIssue(sanctionId: string, uscc: string, fromMs: number, days = 365): Record {
  return { kind: { $case: 'sanctionIssue', value: sanction(sanctionId, uscc, fromMs, days) } };
}

/** A one-year ban for bid rigging, published for six months. */
export function sanction(sanctionId: string, uscc: string, fromMs: number, days = 365): SanctionIssue {
  return {
    sanctionId,
    subject: { id: { $case: 'uscc', value: uscc }, name: `Company ${uscc.slice(8, 17)}` },
    listType: ListType.LIST_TYPE_SERIOUS_DISHONESTY,
    grounds: 'Bid rigging in a public works tender',
    groundsCategory: GroundsCategory.GROUNDS_CATEGORY_COLLUSION,
    decidingAuthority: 'Municipal Development and Reform Commission',
    documentCode: `DRC-${sanctionId}`,
    scope: ['works'],
    restriction: Restriction.RESTRICTION_BAN,
    restrictionPeriod: { fromMs: BigInt(fromMs), untilMs: BigInt(fromMs + days * day) },
    publicationPeriod: { fromMs: BigInt(fromMs), untilMs: BigInt(fromMs + 180 * day) },
    decidedAtMs: BigInt(fromMs),
  };
}

export function sanctionLift(sanctionId: string, effectiveAtMs: number): Record {
  return { kind: { $case: 'sanctionLift', value: lift(sanctionId, effectiveAtMs) } };
}

export function lift(sanctionId: string, effectiveAtMs: number): SanctionLift {
  return { sanctionId, reason: LiftReason.LIFT_REASON_CREDIT_REPAIR, explanation: 'Credit repair completed', effectiveAtMs: BigInt(effectiveAtMs) };
}
