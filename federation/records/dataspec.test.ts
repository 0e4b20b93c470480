import { describe, expect, it } from 'vitest';
import { GroundsCategory, LegalRole, ListType, Restriction } from '../../gen/tongxing/records/v1/records.js';
import { lift, sanction, usccFor } from '../testing/records.js';
import { dataSpecField, entityFromRow, entityToRow, formatSpecTime, parseSpecTime, rowsOf, sanctionFromRow, sanctionToRow } from './dataspec.js';

// Rows in the national data specification's vocabulary (docs/DOMAIN.md, "The data specification") to records
// and back; every error names the row and the data-spec field.

const uscc = usccFor(77);

const entityRow = {
  LEGAL_NAME: '滇池建设有限公司',
  LEGAL_CODE: uscc,
  LEGAL_ROLE: '投标人,招标代理机构',
  LEGAL_REPRESENT: '张三',
  LEGAL_TYPE: '有限责任公司',
  REGION_CODE: 530100,
  REG_CAPITAL: '50000000',
  LEGAL_STATUS: '存续',
  CONTACT_PHONE: '0871-0000000', // not mapped: ignored
};

const blacklistRow = {
  BLACKLIST_CODE: 'KM-BL-2025-001',
  BODY_NAME: '滇池建设有限公司',
  BODY_TYPE: '法人',
  BODY_CODE: uscc,
  BODY_ROLE: '投标人',
  RECORD_REASON: '在昆明市某道路工程招标中串通投标',
  RECORD_DATE: '2025-03-01',
  GOVERNMENT: '昆明市发展和改革委员会',
  DOCUMENT_CODE: '昆发改法规〔2025〕12号',
  CONFINED_ACTION: '禁止参加依法必须进行招标的项目投标',
  CONFINED_END: '2026-03-01',
  SCOPE: ['工程建设', '政府采购'],
};

describe('times', () => {
  it('reads dates as China Standard Time midnight, local times as CST, ISO times with their zone', () => {
    expect(parseSpecTime('2025-03-01', 'F')).toBe(Date.parse('2025-02-28T16:00:00Z'));
    expect(parseSpecTime('2025-03-01 14:30:00', 'F')).toBe(Date.parse('2025-03-01T06:30:00Z'));
    expect(parseSpecTime('2025-03-01T14:30:00Z', 'F')).toBe(Date.parse('2025-03-01T14:30:00Z'));
    expect(parseSpecTime('', 'F')).toBeUndefined();
    expect(() => parseSpecTime('01/03/2025', 'F')).toThrow(/not a date/);
  });

  it('writes what it reads back to the same millisecond', () => {
    for (const ms of [Date.parse('2025-02-28T16:00:00Z'), Date.parse('2025-03-01T06:30:05Z'), Date.parse('2025-03-01T06:30:05.123Z')]) {
      expect(parseSpecTime(formatSpecTime(ms), 'F')).toBe(ms);
    }
    expect(formatSpecTime(Date.parse('2025-02-28T16:00:00Z'))).toBe('2025-03-01');
    expect(formatSpecTime(Date.parse('2025-03-01T06:30:05Z'))).toBe('2025-03-01T14:30:05+08:00');
  });
});

describe('entities (法人基本信息)', () => {
  it('maps LEGAL_* fields to a profile, roles in Chinese or English', () => {
    const result = entityFromRow(entityRow, 0);
    expect(result).toMatchObject({
      ok: { uscc, legalName: '滇池建设有限公司', roles: [LegalRole.LEGAL_ROLE_BIDDER, LegalRole.LEGAL_ROLE_AGENCY], regionCode: '530100', registeredCapital: '50000000' },
    });
    expect(entityFromRow({ ...entityRow, LEGAL_ROLE: ['tenderer'] }, 0)).toMatchObject({ ok: { roles: [LegalRole.LEGAL_ROLE_TENDERER] } });
  });

  it('reports every unreadable field of a row, under its data-spec name', () => {
    const result = entityFromRow({ ...entityRow, LEGAL_ROLE: '竞买人', LEGAL_NAME: { zh: 'x' } }, 4);
    expect(result).toEqual({
      errors: [
        { row: 4, field: 'LEGAL_ROLE', reason: expect.stringMatching(/"竞买人" is not one of bidder, tenderer, agency, other/) },
        { row: 4, field: 'LEGAL_NAME', reason: 'must be text, got object' },
      ],
    });
  });

  it('names the field of a broken rule in the vocabulary', () => {
    expect(entityFromRow({ ...entityRow, LEGAL_CODE: '91350100M000100Y44' }, 2)).toEqual({ errors: [{ row: 2, field: 'LEGAL_CODE', reason: expect.stringMatching(/check character/) }] });
    expect(entityFromRow({ ...entityRow, REGION_CODE: '5301' }, 2)).toEqual({ errors: [{ row: 2, field: 'REGION_CODE', reason: 'must be 6 digits (GB/T 2260)' }] });
    expect(entityFromRow({ ...entityRow, LEGAL_ROLE: '' }, 2)).toEqual({ errors: [{ row: 2, field: 'LEGAL_ROLE', reason: 'missing' }] });
    expect(entityFromRow('not an object', 3)).toEqual({ errors: [{ row: 3, field: 'row', reason: 'must be a JSON object of fields' }] });
  });

  it('accepts a legacy code with an explicit override, never silently', () => {
    const legacy = { ...entityRow, LEGAL_CODE: '91350100M000100Y44' };
    const accepted = entityFromRow({ ...legacy, TX_USCC_OVERRIDE_REASON: 'issued before the check was enforced', TX_USCC_OVERRIDE_APPROVED_BY: 'operator 7' }, 0);
    expect(accepted).toMatchObject({ ok: { uscc: '91350100M000100Y44', usccOverride: { approvedBy: 'operator 7' } } });
    expect(entityFromRow({ ...legacy, TX_USCC_OVERRIDE_REASON: 'because' }, 0)).toEqual({ errors: [{ row: 0, field: 'TX_USCC_OVERRIDE_APPROVED_BY', reason: 'missing' }] });
  });

  it('exports the same vocabulary, which imports to the same profile', () => {
    const profile = (entityFromRow(entityRow, 0) as { ok: never }).ok;
    const row = entityToRow(profile, { city: 'Kunming', nodeId: 'ab' });
    expect(row).toMatchObject({ LEGAL_CODE: uscc, LEGAL_ROLE: 'bidder,agency', REGION_CODE: '530100', TX_HOME_CITY: 'Kunming' });
    expect(entityFromRow(row, 0)).toEqual({ ok: profile });
  });
});

describe('sanctions (黑名单 / 违法违规)', () => {
  it('maps a blacklist row, with the defaults docs/DOMAIN.md states', () => {
    const result = sanctionFromRow(blacklistRow, 0);
    const start = Date.parse('2025-02-28T16:00:00Z');
    expect(result).toMatchObject({
      ok: {
        sanctionId: 'KM-BL-2025-001',
        subject: { id: { $case: 'uscc', value: uscc }, name: '滇池建设有限公司' },
        listType: ListType.LIST_TYPE_SERIOUS_DISHONESTY,
        groundsCategory: GroundsCategory.GROUNDS_CATEGORY_COLLUSION, // 串通投标
        decidingAuthority: '昆明市发展和改革委员会',
        restriction: Restriction.RESTRICTION_BAN,
        scope: ['工程建设', '政府采购'],
        restrictionPeriod: { fromMs: BigInt(start), untilMs: BigInt(Date.parse('2026-02-28T16:00:00Z')) },
        // Published six months, or to the restriction end when that is later.
        publicationPeriod: { fromMs: BigInt(start), untilMs: BigInt(Date.parse('2026-02-28T16:00:00Z')) },
        decidedAtMs: BigInt(start),
      },
    });
  });

  it('maps a violation record to the bad-behaviour list, and an expert subject by BODY_TYPE', () => {
    const violation = { ...blacklistRow, RECORD_REASON: '', VIOLATING_TYPE: '评标专家违规', CONFINED_START: '2025-03-02', CONFINED_END: '2025-06-02', CONFINED_ACTION: '扣分' };
    const short = sanctionFromRow(violation, 0);
    expect(short).toMatchObject({ ok: { listType: ListType.LIST_TYPE_BAD_BEHAVIOUR, grounds: '评标专家违规', restriction: Restriction.RESTRICTION_SCORE_DEDUCTION } });
    // Published for six months although the restriction is three.
    expect((short as { ok: { publicationPeriod: { untilMs: bigint } } }).ok.publicationPeriod.untilMs).toBe(BigInt(Date.parse('2025-09-01T16:00:00Z')));
    const expert = sanctionFromRow({ ...blacklistRow, BODY_TYPE: '专家', BODY_CODE: 'km.e-000123', BODY_NAME: '', TX_LIST_TYPE: 'watch', CONFINED_ACTION: '警示' }, 0);
    expect(expert).toMatchObject({ ok: { subject: { id: { $case: 'expertRef', value: 'km.e-000123' } }, listType: ListType.LIST_TYPE_WATCH, restriction: Restriction.RESTRICTION_ALERT_ONLY } });
  });

  // Issue 12: Date.parse read 2026-02-30 as 2026-03-02 for record dates and restriction periods.
  it('refuses an impossible date with its row and field instead of rolling it over', () => {
    const fields = ['RECORD_DATE', 'CONFINED_START', 'CONFINED_END', 'TX_PUBLISH_START', 'TX_PUBLISH_END'] as const;
    for (const name of fields) {
      const result = sanctionFromRow({ ...blacklistRow, CONFINED_START: '2025-03-01', TX_PUBLISH_START: '2025-03-01', TX_PUBLISH_END: '2026-03-01', [name]: '2026-02-30' }, 7);
      expect(result, name).toEqual({ errors: [{ row: 7, field: name, reason: '"2026-02-30" is not a calendar date: February 2026 has 28 days' }] });
    }
    expect(sanctionFromRow({ ...blacklistRow, CONFINED_END: '2026-02-28 24:00:00' }, 2)).toEqual({ errors: [{ row: 2, field: 'CONFINED_END', reason: expect.stringMatching(/hour 24 is not 00-23/) }] });
  });

  it('publishes six calendar months, ending on the last day of a shorter month', () => {
    const result = sanctionFromRow({ ...blacklistRow, RECORD_DATE: '2025-08-31', CONFINED_END: '2025-09-30' }, 0);
    expect((result as { ok: { publicationPeriod: { untilMs: bigint } } }).ok.publicationPeriod.untilMs).toBe(BigInt(parseSpecTime('2026-02-28', 'F')!));
  });

  it('reports the row and the data-spec field of each problem', () => {
    expect(sanctionFromRow({ ...blacklistRow, CONFINED_END: undefined, CONFINED_ACTION: '' }, 9)).toEqual({
      errors: [
        { row: 9, field: 'CONFINED_ACTION', reason: expect.stringMatching(/^missing/) },
        { row: 9, field: 'CONFINED_END', reason: 'missing: the restriction needs an end' },
      ],
    });
    expect(sanctionFromRow({ ...blacklistRow, RECORD_DATE: 'yesterday' }, 1)).toEqual({ errors: [{ row: 1, field: 'RECORD_DATE', reason: expect.stringMatching(/is not a date/) }] });
    expect(sanctionFromRow({ ...blacklistRow, BODY_CODE: 'ABC' }, 1)).toEqual({ errors: [{ row: 1, field: 'BODY_CODE', reason: expect.any(String) }] });
    expect(sanctionFromRow({ ...blacklistRow, CONFINED_END: '2024-01-01' }, 1)).toEqual({ errors: [{ row: 1, field: 'CONFINED_END', reason: expect.stringMatching(/is not after fromMs/) }] });
    expect(sanctionFromRow({ ...blacklistRow, BLACKLIST_CODE: '' }, 1)).toEqual({ errors: [{ row: 1, field: 'BLACKLIST_CODE', reason: 'missing' }] });
    expect(sanctionFromRow({ ...blacklistRow, TX_LIST_TYPE: 'grey' }, 1)).toEqual({ errors: [{ row: 1, field: 'TX_LIST_TYPE', reason: expect.stringMatching(/not one of serious-dishonesty, bad-behaviour, watch/) }] });
  });

  it('exports the same vocabulary, which imports to the same sanction', () => {
    const issue = sanction('GY-7', uscc, Date.parse('2025-01-01T00:00:00Z'));
    const row = sanctionToRow(issue, { issuerCity: 'Guiyang', issuer: 'cd', lift: lift('GY-7', Date.parse('2025-05-01T00:00:00Z')) });
    expect(row).toMatchObject({ BLACKLIST_CODE: 'GY-7', BODY_TYPE: 'entity', CONFINED_ACTION: 'ban', TX_LIST_TYPE: 'serious-dishonesty', TX_ISSUER_CITY: 'Guiyang', TX_LIFT_REASON: 'credit-repair' });
    expect(sanctionFromRow(row, 0)).toEqual({ ok: issue });
  });
});

describe('files and field names', () => {
  it('reads an array of rows, or an object holding one', () => {
    expect(rowsOf([1, 2])).toEqual([1, 2]);
    expect(rowsOf({ DATA: [1], total: 1 })).toEqual([1]);
    expect(() => rowsOf({ a: [], b: [] })).toThrow(/one array of rows/);
  });

  it('names record fields in the vocabulary', () => {
    expect(dataSpecField('entities', 'profile.roles[1]')).toBe('LEGAL_ROLE');
    expect(dataSpecField('sanctions', 'sanction.restrictionPeriod.untilMs')).toBe('CONFINED_END');
    expect(dataSpecField('sanctions', 'sanction.subject.name')).toBe('BODY_NAME');
    expect(dataSpecField('sanctions', 'sanction.publicationPeriod.fromMs')).toBe('TX_PUBLISH_START');
  });
});
