import type { ExportedExpert, ExpertImport } from '../../gen/tongxing/api/v1/transfer.js';
import { ExpertStatus, type Employment, type ExpertProfile } from '../../gen/tongxing/records/v1/records.js';
import { ValidationError } from '../../federation/errors.js';
import { formatSpecTime, parseSpecTime, type DataSpecRow, type RowError, type RowResult } from '../../federation/records/dataspec.js';
import { validateExpertProfile } from '../../federation/records/validate.js';
import { checkPersonal } from '../api/expert.js';
import { list, text } from './dataspec-fields.js';

// Expert rows (评标专家) in the data-specification vocabulary, to and from the
// import items of `tongxing import|export experts` (docs/IMPORTS.md):
// ID_CARD, EXPERT_NAME, PHONE_NUMBER, COMPANY (personal: kept at the home node
// only), MAJOR_CODE, AREA, and TX_EMPLOYMENT / TX_STATUS where the
// specification has no field. Each row is checked here as the node will check
// it, so a file reports every bad row before anything is sent.

/** Record field path (as the node names it) to the row field. */
const expertFields: ReadonlyArray<readonly [string, string]> = [
  ['personal.idCardNumber', 'ID_CARD'],
  ['personal.birthday', 'ID_CARD'],
  ['personal.name', 'EXPERT_NAME'],
  ['personal.phone', 'PHONE_NUMBER'],
  ['personal.employerName', 'COMPANY'],
  ['personal', 'ID_CARD'],
  ['profile.specialtyCodes', 'MAJOR_CODE'],
  ['profile.employment', 'TX_EMPLOYMENT'],
  ['profile.regionCode', 'AREA'],
  ['profile.status', 'TX_STATUS'],
  ['profile', 'MAJOR_CODE'],
];

export function expertField(path: string): string {
  const plain = path.replace(/\[\d+\]/g, '');
  return expertFields.find(([prefix]) => plain === prefix || plain.startsWith(`${prefix}.`))?.[1] ?? path;
}

const statusWords: ReadonlyArray<readonly [readonly string[], ExpertStatus]> = [
  [['active', '正常', '在库', '可抽取'], ExpertStatus.EXPERT_STATUS_ACTIVE],
  [['paused', '暂停', '暂停抽取'], ExpertStatus.EXPERT_STATUS_PAUSED],
];

/** Stands in for the ref the home node derives, so a row is checked here by the node's own rules. */
const placeholderRef = 'e-000000000000000000000000';

/**
 * One employment (for avoidance, 回避): {"EMPLOYER_CODE", "START_DATE",
 * "END_DATE"?} or the text "USCC:FROM[:UNTIL]" with dates; no end: still employed there.
 */
function employmentOf(value: unknown, i: number): Employment {
  let code: string;
  let from: string;
  let until: string;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const item = value as DataSpecRow;
    const part = (name: string) => {
      try {
        return text(item, name);
      } catch {
        throw new ValidationError('TX_EMPLOYMENT', `item ${i}: ${name} must be text`);
      }
    };
    [code, from, until] = [part('EMPLOYER_CODE'), part('START_DATE'), part('END_DATE')];
  } else if (typeof value === 'string') {
    const parts = value.split(/[:：]/).map((p) => p.trim());
    if (parts.length > 3) throw new ValidationError('TX_EMPLOYMENT', `item ${i} ${JSON.stringify(value)} is not USCC:FROM[:UNTIL] with dates`);
    [code, from, until] = [parts[0] ?? '', parts[1] ?? '', parts[2] ?? ''];
  } else {
    throw new ValidationError('TX_EMPLOYMENT', `item ${i} must be {"EMPLOYER_CODE", "START_DATE", "END_DATE"} or "USCC:FROM[:UNTIL]"`);
  }
  if (code === '') throw new ValidationError('TX_EMPLOYMENT', `item ${i}: EMPLOYER_CODE missing (the employer's USCC)`);
  if (from === '') throw new ValidationError('TX_EMPLOYMENT', `item ${i}: START_DATE missing`);
  const time = (t: string): number | undefined => {
    try {
      return parseSpecTime(t, 'TX_EMPLOYMENT');
    } catch (error) {
      throw new ValidationError('TX_EMPLOYMENT', `item ${i}: ${(error as { reason?: string }).reason ?? (error as Error).message}`);
    }
  };
  return { employerUscc: code, period: { fromMs: BigInt(time(from)!), untilMs: BigInt(time(until) ?? 0) }, employerUsccOverride: undefined };
}

function employments(row: DataSpecRow): Employment[] {
  const value = row.TX_EMPLOYMENT;
  if (value === undefined || value === null || value === '') return [];
  const items: unknown[] = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[,，;；]/).map((s) => s.trim()).filter((s) => s !== '') : [value];
  return items.map(employmentOf);
}

/** One expert row, checked as the home node will check it (its ref aside). */
export function expertFromRow(raw: unknown, index: number): RowResult<ExpertImport> {
  const errors: ValidationError[] = [];
  const read = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      errors.push(error);
      return undefined;
    }
  };
  const fail = () => ({ errors: errors.map((e): RowError => ({ row: index, field: e.field, reason: e.reason })) });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { errors: [{ row: index, field: 'row', reason: 'must be a JSON object of fields' }] };
  const row = raw as DataSpecRow;
  const statusWord = read(() => text(row, 'TX_STATUS')) ?? '';
  const status = statusWord === '' ? ExpertStatus.EXPERT_STATUS_ACTIVE : statusWords.find(([words]) => words.some((w) => w.toLowerCase() === statusWord.toLowerCase()))?.[1];
  if (status === undefined) errors.push(new ValidationError('TX_STATUS', `${JSON.stringify(statusWord)} is not one of active, paused (正常, 暂停)`));
  const personalIn = {
    idCardNumber: read(() => text(row, 'ID_CARD')) ?? '',
    name: read(() => text(row, 'EXPERT_NAME')) ?? '',
    phone: read(() => text(row, 'PHONE_NUMBER')) ?? '',
    birthday: '',
    employerName: read(() => text(row, 'COMPANY')) ?? '',
  };
  const profile: ExpertProfile = {
    expertRef: '',
    specialtyCodes: read(() => list(row, 'MAJOR_CODE')) ?? [],
    employment: read(() => employments(row)) ?? [],
    regionCode: read(() => text(row, 'AREA')) ?? '',
    status: status ?? ExpertStatus.EXPERT_STATUS_UNSPECIFIED,
  };
  if (errors.length > 0) return fail();
  try {
    const personal = checkPersonal(personalIn);
    validateExpertProfile({ ...profile, expertRef: placeholderRef }, 'profile');
    return { ok: { personal, profile } };
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    errors.push(new ValidationError(expertField(error.field), error.reason));
    return fail();
  }
}

const statusText = (status: ExpertStatus): string => statusWords.find(([, v]) => v === status)?.[0][0] ?? String(status);

/** An exported expert as a row `tongxing import experts` reads back (when it carries the personal fields). */
export function expertToRow(expert: ExportedExpert, home: { city: string; nodeId: string }): DataSpecRow {
  const p = expert.profile!;
  const row: DataSpecRow = {};
  if (expert.personal) {
    row.ID_CARD = expert.personal.idCardNumber;
    row.EXPERT_NAME = expert.personal.name;
    row.PHONE_NUMBER = expert.personal.phone;
    row.COMPANY = expert.personal.employerName;
  }
  row.MAJOR_CODE = p.specialtyCodes.join(',');
  row.AREA = p.regionCode;
  row.TX_STATUS = statusText(p.status);
  row.TX_EMPLOYMENT = p.employment.map((e) => ({
    EMPLOYER_CODE: e.employerUscc,
    START_DATE: formatSpecTime(Number(e.period!.fromMs)),
    ...(e.period!.untilMs === 0n ? {} : { END_DATE: formatSpecTime(Number(e.period!.untilMs)) }),
  }));
  row.EXPERT_REF = p.expertRef;
  row.TX_HOME_CITY = home.city;
  row.TX_HOME_NODE = home.nodeId;
  return row;
}
