import {
  GroundsCategory,
  LegalRole,
  LiftReason,
  ListType,
  Restriction,
  type EntityProfile,
  type SanctionIssue,
  type SanctionLift,
  type UsccOverride,
} from '../../gen/tongxing/records/v1/records.js';
import { ValidationError } from '../errors.js';
import { chinaOffsetMs, readTime } from './dates.js';
import { defaultPublicationUntilMs } from './publication.js';
import { validateEntityProfile, validateSanctionIssue } from './validate.js';

// Rows in the field vocabulary of the national public resource trading platform
// data specification V2.0 (docs/DOMAIN.md, "The data specification": 法人基本信息 LEGAL_*, 黑名单 BLACKLIST_CODE /
// BODY_* / DOCUMENT_CODE, 违法违规 VIOLATING_TYPE / CONFINED_*), mapped to and from
// Tongxing records. Fields Tongxing needs that the specification lacks carry a
// TX_ prefix. Unknown fields (contacts, ...) are ignored on import. Pure.
//
// Times: "2025-03-01" (00:00 China Standard Time), "2025-03-01 14:30:00" (China
// Standard Time) or ISO 8601 with a zone, calendar-valid (dates.ts: 2026-02-30 is
// refused with its row and field, never rolled over); exported as the first form
// at midnight, else "2025-03-01T14:30:00+08:00" (milliseconds when not zero).

export type DataSpecRow = { [field: string]: unknown };

/** A row that cannot be imported: index in the file (from 0), data-spec field name, reason. */
export interface RowError {
  readonly row: number;
  readonly field: string;
  readonly reason: string;
}

export type RowResult<T> = { readonly ok: T } | { readonly errors: RowError[] };

/** The rows of an import file: a JSON array, or an object whose one array-valued property holds them (e.g. {"DATA": [...]}). */
export function rowsOf(json: unknown): unknown[] {
  if (Array.isArray(json)) return json;
  if (typeof json === 'object' && json !== null) {
    const arrays = Object.values(json).filter(Array.isArray);
    if (arrays.length === 1) return arrays[0]!;
  }
  throw new ValidationError('file', 'must be a JSON array of rows, or an object with one array of rows (e.g. {"DATA": [...]})');
}

// ---- field names ----

const entityFields: ReadonlyArray<readonly [string, string]> = [
  ['profile.usccOverride.approvedBy', 'TX_USCC_OVERRIDE_APPROVED_BY'],
  ['profile.usccOverride', 'TX_USCC_OVERRIDE_REASON'],
  ['profile.uscc', 'LEGAL_CODE'],
  ['profile.legalName', 'LEGAL_NAME'],
  ['profile.roles', 'LEGAL_ROLE'],
  ['profile.legalRepresentative', 'LEGAL_REPRESENT'],
  ['profile.legalType', 'LEGAL_TYPE'],
  ['profile.regionCode', 'REGION_CODE'],
  ['profile.registeredCapital', 'REG_CAPITAL'],
  ['profile.legalStatus', 'LEGAL_STATUS'],
  ['profile', 'LEGAL_CODE'],
];

const sanctionFields: ReadonlyArray<readonly [string, string]> = [
  ['sanction.sanctionId', 'BLACKLIST_CODE'],
  ['sanction.subject.usccOverride.approvedBy', 'TX_USCC_OVERRIDE_APPROVED_BY'],
  ['sanction.subject.usccOverride', 'TX_USCC_OVERRIDE_REASON'],
  ['sanction.subject.name', 'BODY_NAME'],
  ['sanction.subject', 'BODY_CODE'],
  ['sanction.listType', 'TX_LIST_TYPE'],
  ['sanction.grounds', 'RECORD_REASON'],
  ['sanction.groundsCategory', 'TX_GROUNDS_CATEGORY'],
  ['sanction.decidingAuthority', 'GOVERNMENT'],
  ['sanction.documentCode', 'DOCUMENT_CODE'],
  ['sanction.scope', 'SCOPE'],
  ['sanction.restriction', 'CONFINED_ACTION'],
  ['sanction.restrictionPeriod.fromMs', 'CONFINED_START'],
  ['sanction.restrictionPeriod', 'CONFINED_END'],
  ['sanction.publicationPeriod.fromMs', 'TX_PUBLISH_START'],
  ['sanction.publicationPeriod', 'TX_PUBLISH_END'],
  ['sanction.decidedAtMs', 'RECORD_DATE'],
  ['sanction', 'BLACKLIST_CODE'],
];

export type TransferKindName = 'entities' | 'sanctions';

/**
 * The data-spec name of a record field path as validation names it
 * (`profile.uscc` -> LEGAL_CODE, `sanction.restrictionPeriod.untilMs` -> CONFINED_END);
 * the path itself when it has none.
 */
export function dataSpecField(kind: TransferKindName, path: string): string {
  const plain = path.replace(/\[\d+\]/g, '');
  for (const [prefix, name] of kind === 'entities' ? entityFields : sanctionFields) {
    if (plain === prefix || plain.startsWith(`${prefix}.`)) return name;
  }
  return path;
}

// ---- values ----

class FieldError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** Text of a field: strings trimmed, numbers written out, absent/null as ''. */
function text(row: DataSpecRow, field: string): string {
  const value = row[field];
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new FieldError(field, `must be text, got ${Array.isArray(value) ? 'a list' : typeof value}`);
}

/** A list field: a JSON array of text, or text separated by , ， 、 ; ； or /. */
function list(row: DataSpecRow, field: string): string[] {
  const value = row[field];
  if (Array.isArray(value)) {
    return value.map((item, i) => {
      if (typeof item !== 'string' && typeof item !== 'number') throw new FieldError(field, `item ${i} must be text`);
      return String(item).trim();
    }).filter((item) => item !== '');
  }
  return text(row, field).split(/[,，、;；/]/).map((s) => s.trim()).filter((s) => s !== '');
}

/** Unix ms of a data-spec time (see the header); undefined when the field is empty. */
export function parseSpecTime(value: string, field: string): number | undefined {
  if (value === '') return undefined;
  const read = readTime(value, ['date', 'local', 'zoned']);
  if ('problem' in read) throw new FieldError(field, read.problem);
  if (read.ms <= 0) throw new FieldError(field, `${JSON.stringify(value)} is before 1970`);
  return read.ms;
}

export function formatSpecTime(ms: number): string {
  const iso = new Date(ms + chinaOffsetMs).toISOString();
  if (iso.endsWith('T00:00:00.000Z')) return iso.slice(0, 10);
  return `${iso.slice(0, iso.endsWith('.000Z') ? 19 : 23)}+08:00`;
}

/** The value whose names (case-insensitive) include `word`, or a FieldError listing the accepted names. */
function named<T>(field: string, word: string, names: ReadonlyArray<readonly [readonly string[], T]>): T {
  const lower = word.toLowerCase();
  for (const [words, value] of names) if (words.some((w) => w.toLowerCase() === lower)) return value;
  throw new FieldError(field, `${JSON.stringify(word)} is not one of ${names.map(([w]) => w[0]).join(', ')}`);
}

const roleNames: ReadonlyArray<readonly [readonly string[], LegalRole]> = [
  [['bidder', 'LEGAL_ROLE_BIDDER', '投标人', '供应商'], LegalRole.LEGAL_ROLE_BIDDER],
  [['tenderer', 'LEGAL_ROLE_TENDERER', '招标人', '采购人'], LegalRole.LEGAL_ROLE_TENDERER],
  [['agency', 'LEGAL_ROLE_AGENCY', '招标代理机构', '代理机构', '采购代理机构'], LegalRole.LEGAL_ROLE_AGENCY],
  [['other', 'LEGAL_ROLE_OTHER', '其他'], LegalRole.LEGAL_ROLE_OTHER],
];

const listTypeNames: ReadonlyArray<readonly [readonly string[], ListType]> = [
  [['serious-dishonesty', 'LIST_TYPE_SERIOUS_DISHONESTY', '严重失信', '黑名单'], ListType.LIST_TYPE_SERIOUS_DISHONESTY],
  [['bad-behaviour', 'LIST_TYPE_BAD_BEHAVIOUR', '不良行为', '违法违规'], ListType.LIST_TYPE_BAD_BEHAVIOUR],
  [['watch', 'LIST_TYPE_WATCH', '重点关注'], ListType.LIST_TYPE_WATCH],
];

const categoryNames: ReadonlyArray<readonly [readonly string[], GroundsCategory]> = [
  [['fraud', 'GROUNDS_CATEGORY_FRAUD'], GroundsCategory.GROUNDS_CATEGORY_FRAUD],
  [['corruption', 'GROUNDS_CATEGORY_CORRUPTION'], GroundsCategory.GROUNDS_CATEGORY_CORRUPTION],
  [['collusion', 'GROUNDS_CATEGORY_COLLUSION'], GroundsCategory.GROUNDS_CATEGORY_COLLUSION],
  [['coercion', 'GROUNDS_CATEGORY_COERCION'], GroundsCategory.GROUNDS_CATEGORY_COERCION],
  [['other', 'GROUNDS_CATEGORY_OTHER'], GroundsCategory.GROUNDS_CATEGORY_OTHER],
];

const restrictionNames: ReadonlyArray<readonly [readonly string[], Restriction]> = [
  [['ban', 'RESTRICTION_BAN'], Restriction.RESTRICTION_BAN],
  [['score-deduction', 'RESTRICTION_SCORE_DEDUCTION'], Restriction.RESTRICTION_SCORE_DEDUCTION],
  [['alert-only', 'RESTRICTION_ALERT_ONLY'], Restriction.RESTRICTION_ALERT_ONLY],
];

/** Grounds category read from RECORD_REASON when TX_GROUNDS_CATEGORY is absent (recognition rules read it). */
const categoryKeywords: ReadonlyArray<readonly [RegExp, GroundsCategory]> = [
  [/串通|围标|陪标|collusion|rigging/i, GroundsCategory.GROUNDS_CATEGORY_COLLUSION],
  [/行贿|受贿|贿赂|corrupt|brib/i, GroundsCategory.GROUNDS_CATEGORY_CORRUPTION],
  [/弄虚作假|虚假|伪造|骗取|fraud|forg/i, GroundsCategory.GROUNDS_CATEGORY_FRAUD],
  [/胁迫|强迫|coerc/i, GroundsCategory.GROUNDS_CATEGORY_COERCION],
];

/** CONFINED_ACTION is free text in the specification: names, or the usual Chinese wording. */
function restrictionOf(field: string, value: string): Restriction {
  if (/扣分/.test(value)) return Restriction.RESTRICTION_SCORE_DEDUCTION;
  if (/警示|提醒|关注|告诫/.test(value)) return Restriction.RESTRICTION_ALERT_ONLY;
  if (/禁止|取消|限制|不得|暂停/.test(value)) return Restriction.RESTRICTION_BAN;
  return named(field, value, restrictionNames);
}

function overrideOf(row: DataSpecRow): UsccOverride | undefined {
  const reason = text(row, 'TX_USCC_OVERRIDE_REASON');
  const approvedBy = text(row, 'TX_USCC_OVERRIDE_APPROVED_BY');
  return reason === '' && approvedBy === '' ? undefined : { reason, approvedBy };
}

function asRow(row: unknown): DataSpecRow {
  if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new FieldError('row', 'must be a JSON object of fields');
  return row as DataSpecRow;
}

/**
 * Runs `build`, collecting field errors of the row under their data-spec names;
 * the record is then validated as any record is, its field named in the vocabulary.
 */
function mapRow<T>(kind: TransferKindName, index: number, build: (row: DataSpecRow, errors: FieldError[]) => T | undefined, raw: unknown, validate: (value: T) => void): RowResult<T> {
  const errors: FieldError[] = [];
  let value: T | undefined;
  try {
    value = build(asRow(raw), errors);
  } catch (error) {
    if (!(error instanceof FieldError)) throw error;
    errors.push(error);
  }
  if (errors.length === 0 && value !== undefined) {
    try {
      validate(value);
      return { ok: value };
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      errors.push(new FieldError(dataSpecField(kind, error.field), error.reason));
    }
  }
  return { errors: errors.map((e) => ({ row: index, field: e.field, reason: e.reason })) };
}

/** Each field read on its own, so a row reports every unreadable field at once. */
function field<T>(errors: FieldError[], read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof FieldError)) throw error;
    errors.push(error);
    return undefined;
  }
}

// ---- entities (法人基本信息) ----

export function entityFromRow(raw: unknown, index: number): RowResult<EntityProfile> {
  return mapRow(
    'entities',
    index,
    (row, errors) => {
      const roles = field(errors, () => list(row, 'LEGAL_ROLE').map((r) => named('LEGAL_ROLE', r, roleNames)));
      const profile: EntityProfile = {
        uscc: field(errors, () => text(row, 'LEGAL_CODE')) ?? '',
        legalName: field(errors, () => text(row, 'LEGAL_NAME')) ?? '',
        roles: roles ?? [],
        legalRepresentative: field(errors, () => text(row, 'LEGAL_REPRESENT')) ?? '',
        legalType: field(errors, () => text(row, 'LEGAL_TYPE')) ?? '',
        regionCode: field(errors, () => text(row, 'REGION_CODE')) ?? '',
        registeredCapital: field(errors, () => text(row, 'REG_CAPITAL')) ?? '',
        legalStatus: field(errors, () => text(row, 'LEGAL_STATUS')) ?? '',
        usccOverride: field(errors, () => overrideOf(row)),
      };
      return profile;
    },
    raw,
    (profile) => validateEntityProfile(profile, 'profile'),
  );
}

const roleWords: Record<number, string> = Object.fromEntries(roleNames.map(([words, value]) => [value, words[0]!]));

export function entityToRow(profile: EntityProfile, home?: { city: string; nodeId: string }): DataSpecRow {
  const row: DataSpecRow = {
    LEGAL_CODE: profile.uscc,
    LEGAL_NAME: profile.legalName,
    LEGAL_ROLE: profile.roles.map((r) => roleWords[r] ?? String(r)).join(','),
    LEGAL_REPRESENT: profile.legalRepresentative,
    LEGAL_TYPE: profile.legalType,
    REGION_CODE: profile.regionCode,
    REG_CAPITAL: profile.registeredCapital,
    LEGAL_STATUS: profile.legalStatus,
  };
  if (profile.usccOverride) {
    row.TX_USCC_OVERRIDE_REASON = profile.usccOverride.reason;
    row.TX_USCC_OVERRIDE_APPROVED_BY = profile.usccOverride.approvedBy;
  }
  if (home) {
    row.TX_HOME_CITY = home.city;
    row.TX_HOME_NODE = home.nodeId;
  }
  return row;
}

// ---- sanctions (黑名单 / 违法违规) ----

/**
 * A blacklist or violation row. Required: BLACKLIST_CODE, BODY_CODE (a USCC, or
 * with BODY_TYPE expert/专家 an expert reference), BODY_NAME (entities),
 * RECORD_REASON (or VIOLATING_TYPE), GOVERNMENT (or APPROVE_DEPT), DOCUMENT_CODE,
 * CONFINED_ACTION, CONFINED_END and CONFINED_START or RECORD_DATE. Defaults:
 * list type serious dishonesty (bad behaviour when VIOLATING_TYPE is present),
 * grounds category from the wording of RECORD_REASON, publication from the
 * restriction start for six months or to the restriction end if later.
 */
export function sanctionFromRow(raw: unknown, index: number): RowResult<SanctionIssue> {
  return mapRow(
    'sanctions',
    index,
    (row, errors) => {
      const bodyType = field(errors, () => text(row, 'BODY_TYPE')) ?? '';
      const expert = /^(expert|专家|评标专家)$/i.test(bodyType);
      const code = field(errors, () => text(row, 'BODY_CODE')) ?? '';
      const violation = text(row, 'VIOLATING_TYPE');
      const grounds = field(errors, () => text(row, 'RECORD_REASON')) || violation;
      const listWord = field(errors, () => text(row, 'TX_LIST_TYPE')) ?? '';
      const categoryWord = field(errors, () => text(row, 'TX_GROUNDS_CATEGORY')) ?? '';
      const actionWord = field(errors, () => text(row, 'CONFINED_ACTION')) ?? '';
      const recordDate = field(errors, () => parseSpecTime(text(row, 'RECORD_DATE'), 'RECORD_DATE'));
      const start = field(errors, () => parseSpecTime(text(row, 'CONFINED_START'), 'CONFINED_START')) ?? recordDate;
      const end = field(errors, () => parseSpecTime(text(row, 'CONFINED_END'), 'CONFINED_END'));
      const publishStart = field(errors, () => parseSpecTime(text(row, 'TX_PUBLISH_START'), 'TX_PUBLISH_START')) ?? start;
      const publishEnd = field(errors, () => parseSpecTime(text(row, 'TX_PUBLISH_END'), 'TX_PUBLISH_END'));
      const listType = listWord === '' ? (violation !== '' ? ListType.LIST_TYPE_BAD_BEHAVIOUR : ListType.LIST_TYPE_SERIOUS_DISHONESTY) : field(errors, () => named('TX_LIST_TYPE', listWord, listTypeNames));
      const groundsCategory = categoryWord === '' ? (categoryKeywords.find(([pattern]) => pattern.test(grounds))?.[1] ?? GroundsCategory.GROUNDS_CATEGORY_OTHER) : field(errors, () => named('TX_GROUNDS_CATEGORY', categoryWord, categoryNames));
      const restriction = actionWord === '' ? undefined : field(errors, () => restrictionOf('CONFINED_ACTION', actionWord));
      if (actionWord === '') errors.push(new FieldError('CONFINED_ACTION', 'missing: what is restricted (ban, score-deduction, alert-only, or 禁止/扣分/警示 wording)'));
      if (start === undefined && !errors.some((e) => e.field === 'RECORD_DATE' || e.field === 'CONFINED_START')) errors.push(new FieldError('CONFINED_START', 'missing (and no RECORD_DATE to start from)'));
      if (end === undefined && !errors.some((e) => e.field === 'CONFINED_END')) errors.push(new FieldError('CONFINED_END', 'missing: the restriction needs an end'));
      if (errors.length > 0) return undefined;
      const override = field(errors, () => overrideOf(row));
      const issue: SanctionIssue = {
        sanctionId: field(errors, () => text(row, 'BLACKLIST_CODE')) ?? '',
        subject: {
          id: expert ? { $case: 'expertRef', value: code } : { $case: 'uscc', value: code },
          name: field(errors, () => text(row, 'BODY_NAME')) ?? '',
          usccOverride: override,
        },
        listType: listType!,
        grounds,
        groundsCategory: groundsCategory!,
        decidingAuthority: (field(errors, () => text(row, 'GOVERNMENT')) || field(errors, () => text(row, 'APPROVE_DEPT'))) ?? '',
        documentCode: field(errors, () => text(row, 'DOCUMENT_CODE')) ?? '',
        scope: field(errors, () => list(row, 'SCOPE')) ?? [],
        restriction: restriction!,
        restrictionPeriod: { fromMs: BigInt(start!), untilMs: BigInt(end!) },
        publicationPeriod: { fromMs: BigInt(publishStart!), untilMs: BigInt(publishEnd ?? defaultPublicationUntilMs(publishStart!, end!)) },
        decidedAtMs: BigInt(recordDate ?? start!),
      };
      return errors.length > 0 ? undefined : issue;
    },
    raw,
    (issue) => validateSanctionIssue(issue, 'sanction'),
  );
}

const wordOf = <T>(names: ReadonlyArray<readonly [readonly string[], T]>, value: T): string => names.find(([, v]) => v === value)?.[0][0] ?? String(value);

const liftReasonWords: Record<number, string> = {
  [LiftReason.LIFT_REASON_CREDIT_REPAIR]: 'credit-repair',
  [LiftReason.LIFT_REASON_APPEAL]: 'appeal',
  [LiftReason.LIFT_REASON_REVOCATION]: 'revocation',
};

export function sanctionToRow(issue: SanctionIssue, extra: { issuerCity?: string; issuer?: string; lift?: SanctionLift } = {}): DataSpecRow {
  const subject = issue.subject;
  const row: DataSpecRow = {
    BLACKLIST_CODE: issue.sanctionId,
    BODY_NAME: subject?.name ?? '',
    BODY_TYPE: subject?.id?.$case === 'expertRef' ? 'expert' : 'entity',
    BODY_CODE: subject?.id?.value ?? '',
    RECORD_REASON: issue.grounds,
    RECORD_DATE: formatSpecTime(Number(issue.decidedAtMs)),
    GOVERNMENT: issue.decidingAuthority,
    DOCUMENT_CODE: issue.documentCode,
    CONFINED_ACTION: wordOf(restrictionNames, issue.restriction),
    CONFINED_START: formatSpecTime(Number(issue.restrictionPeriod?.fromMs ?? 0n)),
    CONFINED_END: formatSpecTime(Number(issue.restrictionPeriod?.untilMs ?? 0n)),
    SCOPE: issue.scope.join(','),
    TX_LIST_TYPE: wordOf(listTypeNames, issue.listType),
    TX_GROUNDS_CATEGORY: wordOf(categoryNames, issue.groundsCategory),
    TX_PUBLISH_START: formatSpecTime(Number(issue.publicationPeriod?.fromMs ?? 0n)),
    TX_PUBLISH_END: formatSpecTime(Number(issue.publicationPeriod?.untilMs ?? 0n)),
  };
  if (subject?.usccOverride) {
    row.TX_USCC_OVERRIDE_REASON = subject.usccOverride.reason;
    row.TX_USCC_OVERRIDE_APPROVED_BY = subject.usccOverride.approvedBy;
  }
  if (extra.issuerCity !== undefined) row.TX_ISSUER_CITY = extra.issuerCity;
  if (extra.issuer !== undefined) row.TX_ISSUER = extra.issuer;
  if (extra.lift) {
    // 撤销黑名单: when and why the sanction was lifted.
    row.TX_LIFTED_AT = formatSpecTime(Number(extra.lift.effectiveAtMs));
    row.TX_LIFT_REASON = liftReasonWords[extra.lift.reason] ?? String(extra.lift.reason);
    row.TX_LIFT_EXPLANATION = extra.lift.explanation;
  }
  return row;
}
