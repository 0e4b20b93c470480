import {
  GroundsCategory,
  LegalRole,
  LiftReason,
  ListType,
  Restriction,
  RevocationReason,
  ExpertStatus,
  type EntityProfile,
  type EvaluationSession,
  type ExpertProfile,
  type Record,
  type SanctionIssue,
  type SanctionLift,
} from '../../gen/tongxing/records/v1/records.js';
import { residentIdCheckCharacter } from '../experts/pseudonym.js';

// Valid records for tests, benchmarks, the demo and the simulator.

/** Valid USCCs: GB 32100-2015's worked example and real codes (docs/DOMAIN.md, "Unified social credit code"). */
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

// ---- Experts and remote evaluation ----

export interface ExpertOptions {
  readonly specialties?: string[];
  readonly regionCode?: string;
  readonly paused?: boolean;
  /** [employer USCC, fromMs, untilMs (0 while current)] */
  readonly employment?: Array<readonly [string, number, number]>;
}

/** An active works-construction (A0801) expert in Kunming with no employment on record, unless told otherwise. */
export function expertProfile(expertRef: string, options: ExpertOptions = {}): ExpertProfile {
  return {
    expertRef,
    specialtyCodes: options.specialties ?? ['A0801'],
    employment: (options.employment ?? []).map(([employerUscc, fromMs, untilMs]) => ({
      employerUscc,
      period: { fromMs: BigInt(fromMs), untilMs: BigInt(untilMs) },
      employerUsccOverride: undefined,
    })),
    regionCode: options.regionCode ?? '530100',
    status: options.paused ? ExpertStatus.EXPERT_STATUS_PAUSED : ExpertStatus.EXPERT_STATUS_ACTIVE,
  };
}

export function expertProfileRecord(expertRef: string, options?: ExpertOptions): Record {
  return { kind: { $case: 'expertProfile', value: expertProfile(expertRef, options) } };
}

export function expertAvailabilityRecord(expertRef: string, windows: Array<readonly [number, number]>): Record {
  return { kind: { $case: 'expertAvailability', value: { expertRef, windows: windows.map(([f, u]) => ({ fromMs: BigInt(f), untilMs: BigInt(u) })) } } };
}

/** A sanction on an expert (a one-year ban unless `days` says otherwise). */
export function expertSanctionRecord(sanctionId: string, expertRef: string, fromMs: number, days = 365): Record {
  const issue = sanction(sanctionId, usccFor(1), fromMs, days);
  return { kind: { $case: 'sanctionIssue', value: { ...issue, subject: { id: { $case: 'expertRef', value: expertRef }, name: '' } } } };
}

export interface SessionOptions {
  readonly sessionId?: string;
  readonly requirements?: Array<readonly [specialtyCode: string, count: number]>;
  readonly bidders?: string[];
  readonly tenderers?: string[];
  readonly agencies?: string[];
  readonly hostRegionCode?: string;
  readonly otherCitiesOnly?: boolean;
  readonly cityQuotas?: Array<readonly [regionCode: string, expertsMax: number]>;
  readonly seedCommitment?: Uint8Array;
}

/** A session for [fromMs, fromMs + 4 h) hosted in Kunming: 3 A08 experts, bidders usccFor(101..103), tenderer usccFor(201). */
export function evaluationSession(fromMs: number, options: SessionOptions = {}): EvaluationSession {
  return {
    sessionId: options.sessionId ?? 'KM-2025-0001',
    projectCode: 'KM-GC-2025-017',
    projectName: 'Dianchi wetland boardwalk works',
    bidderUsccs: options.bidders ?? [usccFor(101), usccFor(102), usccFor(103)],
    tendererUsccs: options.tenderers ?? [usccFor(201)],
    agencyUsccs: options.agencies ?? [],
    requirements: (options.requirements ?? [['A08', 3]]).map(([specialtyCode, count]) => ({ specialtyCode, count })),
    window: { fromMs: BigInt(fromMs), untilMs: BigInt(fromMs + 4 * 3_600_000) },
    cityQuotas: (options.cityQuotas ?? []).map(([regionCode, expertsMax]) => ({ regionCode, expertsMax })),
    otherCitiesOnly: options.otherCitiesOnly ?? false,
    hostRegionCode: options.hostRegionCode ?? '530100',
    seedCommitment: Buffer.from(options.seedCommitment ?? Buffer.alloc(32, 1)),
  };
}

// ---- certificates and watch-list alerts ----

/** A certificate record binding `certificateDer` to an entity (USCC) or, with `expertRef`, an expert. */
export function certificateRecord(certificateDer: Uint8Array, holder: { uscc: string } | { expertRef: string }, intermediatesDer: Uint8Array[] = []): Record {
  return {
    kind: {
      $case: 'certificateRecord',
      value: {
        certificateDer: Buffer.from(certificateDer),
        holder: 'uscc' in holder ? { $case: 'entityUscc', value: holder.uscc } : { $case: 'expertRef', value: holder.expertRef },
        usccOverride: undefined,
        intermediatesDer: intermediatesDer.map((der) => Buffer.from(der)),
      },
    },
  };
}

export function certificateRevocation(issuerNameHash: string, serialNumber: string, revokedAtMs: number): Record {
  return {
    kind: {
      $case: 'certificateRevocation',
      value: { serialNumber, issuerNameHash, revokedAtMs: BigInt(revokedAtMs), reason: RevocationReason.REVOCATION_REASON_KEY_COMPROMISE, crlDer: Buffer.alloc(0) },
    },
  };
}

export function certificateRevocationList(crlDer: Uint8Array, issuerChainDer: Uint8Array[] = []): Record {
  return { kind: { $case: 'certificateRevocationList', value: { crlDer: Buffer.from(crlDer), issuerChainDer: issuerChainDer.map((der) => Buffer.from(der)) } } };
}

/** A sanction like `sanction()` but on the watch list (重点关注), alert only. */
export function watchSanction(sanctionId: string, uscc: string, fromMs: number, days = 365): SanctionIssue {
  return { ...sanction(sanctionId, uscc, fromMs, days), listType: ListType.LIST_TYPE_WATCH, restriction: Restriction.RESTRICTION_ALERT_ONLY };
}

/** A valid resident ID number (GB 11643): division, birth date YYYYMMDD, 3-digit sequence, and its check character. */
export function residentId(division: string, birthDate: string, sequence: number): string {
  const first17 = `${division}${birthDate}${String(sequence).padStart(3, '0')}`;
  return first17 + residentIdCheckCharacter(first17);
}
