import { describe, expect, it } from 'vitest';
import {
  ExpertStatus,
  GroundsCategory,
  LegalRole,
  MemberRole,
  Record as RecordMessage,
  RevocationReason,
  type CertificateRecord,
  type CertificateRevocation,
  type EntityProfile,
  type ExpertAvailability,
  type ExpertProfile,
  type GovernanceApproval,
  type GovernanceProposal,
  type KeyRotation,
  type Member,
  type SanctionOptOut,
  type Record,
  type SanctionIssue,
  type SanctionLift,
} from '../../gen/tongxing/records/v1/records.js';
import { ValidationError } from '../errors.js';
import { certificateBytesMax, entryBytesMax, identifierCharsMax, listItemsMax, textCharsMax } from '../limits.js';
import { validateRecord } from './validate.js';

// Each rule is broken once, on an otherwise valid record, and the test names the
// field and the reason: removing a rule makes its row fail.

const t0 = 1_700_000_000_000n; // 2023-11-14
const day = 86_400_000n;
const uscc = '91110000600037341L';
const legacyUscc = '91350211M00013FA1N';
const long = 'x'.repeat(textCharsMax + 1);
const publicKey = Buffer.concat([Buffer.from([0x04]), Buffer.alloc(64, 0x11)]);
const nodeId = Buffer.alloc(32, 0x22);
const certificateDer = Buffer.from([0x30, 0x82, 0x01, 0x00, ...new Array<number>(256).fill(0)]);
const many = <T>(item: (i: number) => T): T[] => Array.from({ length: listItemsMax + 1 }, (_, i) => item(i));

function entityProfile(): EntityProfile {
  return {
    uscc,
    legalName: '昆明某建设工程有限公司',
    roles: [1, 3],
    legalRepresentative: '张三',
    legalType: '有限责任公司',
    regionCode: '530100',
    registeredCapital: '5000000.00',
    legalStatus: '存续',
    usccOverride: undefined,
  };
}

function member(): Member {
  return {
    publicKey,
    city: 'Kunming',
    regionCode: '530100',
    endpoints: ['node.km.example:7443', '10.0.0.1:7443', '[::1]:7443'],
    roles: [1, 2],
    libp2pPeerId: '12D3KooWExamplePeer',
    tlsCertificate: Buffer.alloc(0),
    gossipAddresses: ['/ip4/127.0.0.1/tcp/7402/p2p/12D3KooWExamplePeer'],
  };
}

type Edit<T> = (value: T) => void;
const keep = (): void => {};

const entity = (edit: Edit<EntityProfile> = keep): Record => {
  const profile = entityProfile();
  edit(profile);
  return { kind: { $case: 'entityRegistration', value: { profile } } };
};
const certificate = (edit: Edit<CertificateRecord> = keep): Record => {
  const value: CertificateRecord = { certificateDer, holder: { $case: 'entityUscc', value: uscc }, intermediatesDer: [] };
  edit(value);
  return { kind: { $case: 'certificateRecord', value } };
};
const revocation = (edit: Edit<CertificateRevocation> = keep): Record => {
  const value: CertificateRevocation = {
    serialNumber: '1a2b3c',
    issuerNameHash: 'ab'.repeat(32),
    revokedAtMs: t0,
    reason: 1,
    crlDer: Buffer.alloc(0),
  };
  edit(value);
  return { kind: { $case: 'certificateRevocation', value } };
};
const sanction = (edit: Edit<SanctionIssue> = keep): Record => {
  const value: SanctionIssue = {
    sanctionId: 'KM-BL-2023-0042',
    subject: { id: { $case: 'uscc', value: uscc }, name: '昆明某建设工程有限公司' },
    listType: 1,
    grounds: '串通投标',
    groundsCategory: 3,
    decidingAuthority: '昆明市公共资源交易管理委员会',
    documentCode: '昆公管罚〔2023〕12号',
    scope: ['工程建设', '政府采购'],
    restriction: 1,
    restrictionPeriod: { fromMs: t0, untilMs: t0 + 365n * day },
    publicationPeriod: { fromMs: t0, untilMs: t0 + 182n * day },
    decidedAtMs: t0 - day,
  };
  edit(value);
  return { kind: { $case: 'sanctionIssue', value } };
};
const lift = (edit: Edit<SanctionLift> = keep): Record => {
  const value: SanctionLift = { sanctionId: 'KM-BL-2023-0042', reason: 1, explanation: '信用修复完成', effectiveAtMs: t0 };
  edit(value);
  return { kind: { $case: 'sanctionLift', value } };
};
const expert = (edit: Edit<ExpertProfile> = keep): Record => {
  const value: ExpertProfile = {
    expertRef: 'km.e-000123',
    specialtyCodes: ['A08', 'A0801', 'C010101'],
    employment: [
      { employerUscc: uscc, period: { fromMs: t0 - 900n * day, untilMs: t0 - 100n * day } },
      { employerUscc: '91310110666007217T', period: { fromMs: t0 - 100n * day, untilMs: 0n } },
    ],
    regionCode: '530100',
    status: 1,
  };
  edit(value);
  return { kind: { $case: 'expertProfile', value } };
};
const availability = (edit: Edit<ExpertAvailability> = keep): Record => {
  const value: ExpertAvailability = { expertRef: 'km.e-000123', windows: [{ fromMs: t0, untilMs: t0 + day }] };
  edit(value);
  return { kind: { $case: 'expertAvailability', value } };
};
const proposal = (action: GovernanceProposal['action'], edit: Edit<GovernanceProposal> = keep): Record => {
  const value: GovernanceProposal = { epoch: 3n, reason: 'Lanzhou joins the alliance', action };
  edit(value);
  return { kind: { $case: 'governanceProposal', value } };
};
const addMember = (edit: Edit<Member> = keep): Record => {
  const value = member();
  edit(value);
  return proposal({ $case: 'addMember', value: { member: value, possessionSignature: Buffer.alloc(64, 0x35) } });
};
const rotateKey = (edit: Edit<KeyRotation> = keep): Record => {
  const value: KeyRotation = { nodeId, newPublicKey: publicKey, newKeySignature: Buffer.alloc(64, 0x33), newTlsCertificate: Buffer.alloc(0) };
  edit(value);
  return proposal({ $case: 'rotateKey', value });
};
const approval = (edit: Edit<GovernanceApproval> = keep): Record => {
  const value: GovernanceApproval = { proposalHash: Buffer.alloc(32, 0x44), epoch: 3n };
  edit(value);
  return { kind: { $case: 'governanceApproval', value } };
};

function rejection(record: Record, field?: string): ValidationError {
  try {
    validateRecord(record, field);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

const der = (length: number): Buffer => Buffer.concat([Buffer.from([0x30]), Buffer.alloc(length - 1)]);

describe('validateRecord: valid records pass', () => {
  const valid: [string, Record][] = [
    ['entity registration', entity()],
    ['entity update', { kind: { $case: 'entityUpdate', value: { profile: entityProfile() } } }],
    ['legacy USCC with an override', entity((p) => ((p.uscc = legacyUscc), (p.usccOverride = { reason: 'pilot code', approvedBy: 'ops' })))],
    ['entity without optional texts', entity((p) => ((p.legalRepresentative = ''), (p.legalType = ''), (p.registeredCapital = ''), (p.legalStatus = '')))],
    ['certificate for an entity', certificate()],
    ['certificate for an expert', certificate((c) => (c.holder = { $case: 'expertRef', value: 'km.e-000123' }))],
    ['revocation', revocation()],
    ['revocation of serial 0 with a CRL', revocation((r) => ((r.serialNumber = '0'), (r.crlDer = der(100))))],
    ['sanction', sanction()],
    ['sanction of an expert without a name', sanction((s) => (s.subject = { id: { $case: 'expertRef', value: 'km.e-000123' }, name: '' }))],
    ['sanction without scope', sanction((s) => (s.scope = []))],
    ['lift', lift()],
    ['expert with current employment (untilMs 0)', expert()],
    ['expert without employment', expert((e) => (e.employment = []))],
    ['availability', availability()],
    ['availability with no windows (not available)', availability((a) => (a.windows = []))],
    ['add member', addMember()],
    ['add member without endpoints or peer id', addMember((m) => ((m.endpoints = []), (m.libp2pPeerId = '')))],
    ['suspend member', proposal({ $case: 'suspendMember', value: nodeId })],
    ['reinstate member', proposal({ $case: 'reinstateMember', value: nodeId })],
    ['remove member', proposal({ $case: 'removeMember', value: nodeId })],
    ['trust CA', proposal({ $case: 'trustCa', value: certificateDer })],
    ['distrust CA', proposal({ $case: 'distrustCa', value: nodeId })],
    ['change roles', proposal({ $case: 'changeRoles', value: { nodeId, roles: [3] } })],
    ['change quorum', proposal({ $case: 'changeQuorum', value: 2 })],
    ['rotate key (raw signature)', rotateKey()],
    ['rotate key (DER signature)', rotateKey((k) => (k.newKeySignature = der(71)))],
    ['approval', approval()],
    ['change recognition', proposal({ $case: 'changeRecognition', value: { rules: [{ listType: 1, grounds: [1, 2, 3, 4], minRestrictionMs: 365n * day }] } })],
    ['quorum lift', proposal({ $case: 'liftSanction', value: { issuer: nodeId, sanctionId: 'KM-2025-001' } })],
    ['update member', proposal({ $case: 'updateMember', value: member() })],
    ['sanction opt-out', { kind: { $case: 'sanctionOptOut', value: { issuer: nodeId, sanctionId: 'KM-2025-001', reason: 'appeal pending here', withdrawn: false } } }],
  ];

  it.each(valid)('%s', (_name, record) => {
    expect(() => validateRecord(record)).not.toThrow();
  });

  it.each(valid)('%s, after a wire round trip', (_name, record) => {
    const decoded = RecordMessage.decode(RecordMessage.encode(record).finish());
    expect(() => validateRecord(decoded)).not.toThrow();
  });
});

describe('validateRecord: kind', () => {
  it('rejects a record without a kind', () => {
    expect(rejection({})).toMatchObject({ field: 'record.kind', reason: 'missing' });
    expect(rejection({ kind: undefined })).toMatchObject({ field: 'record.kind', reason: 'missing' });
  });

  it('rejects a kind this build does not know', () => {
    const record = { kind: { $case: 'entityMerger', value: {} } } as unknown as Record;
    expect(rejection(record).field).toBe('record.kind');
    expect(rejection(record).reason).toMatch(/^missing/);
  });

  it('rejects the wire form of an empty record (unknown fields are skipped)', () => {
    const decoded = RecordMessage.decode(Buffer.from([0xa0, 0x06, 0x01])); // field 100, varint 1
    expect(rejection(decoded)).toMatchObject({ field: 'record.kind', reason: 'missing' });
  });

  it('prefixes paths with the given field', () => {
    expect(rejection(lift((l) => (l.explanation = '')), 'entries[3]').field).toBe('entries[3].sanctionLift.explanation');
  });
});

type Case = [name: string, record: Record, field: string, reason: string | RegExp];

function rules(title: string, cases: Case[]): void {
  describe(title, () => {
    it.each(cases)('%s', (_name, record, field, reason) => {
      const error = rejection(record);
      expect(error.field).toBe(field);
      if (typeof reason === 'string') expect(error.reason).toBe(reason);
      else expect(error.reason).toMatch(reason);
    });
  });
}

// `n as Enum` below: numbers a newer peer might send, which decode() passes through.
const E = 'record.entityRegistration.profile';
rules('entity profile', [
  ['profile missing', { kind: { $case: 'entityRegistration', value: { profile: undefined } } }, E, 'missing'],
  ['update profile missing', { kind: { $case: 'entityUpdate', value: { profile: undefined } } }, 'record.entityUpdate.profile', 'missing'],
  ['update checked too', { kind: { $case: 'entityUpdate', value: { profile: { ...entityProfile(), legalName: '' } } } }, 'record.entityUpdate.profile.legalName', 'missing'],
  ['uscc missing', entity((p) => (p.uscc = '')), `${E}.uscc`, 'missing'],
  ['uscc check character', entity((p) => (p.uscc = '91110000600037341M')), `${E}.uscc`, /check character \(position 18\) is 'M', expected 'L'/],
  ['uscc lowercase', entity((p) => (p.uscc = '91110000600037341l')), `${E}.uscc`, /lowercase/],
  ['legacy uscc without override', entity((p) => (p.uscc = legacyUscc)), `${E}.uscc`, /expected '3'/],
  ['override without reason', entity((p) => ((p.uscc = legacyUscc), (p.usccOverride = { reason: '', approvedBy: 'ops' }))), `${E}.usccOverride.reason`, 'missing'],
  ['override without approver', entity((p) => ((p.uscc = legacyUscc), (p.usccOverride = { reason: 'pilot', approvedBy: ' ' }))), `${E}.usccOverride.approvedBy`, 'missing'],
  ['override on a valid code', entity((p) => (p.usccOverride = { reason: 'pilot', approvedBy: 'ops' })), `${E}.usccOverride`, /not needed/],
  ['override on a broken structure', entity((p) => ((p.uscc = '9135021AM00013FA1N'), (p.usccOverride = { reason: 'pilot', approvedBy: 'ops' }))), `${E}.uscc`, /only wrong check characters/],
  ['legal name missing', entity((p) => (p.legalName = '')), `${E}.legalName`, 'missing'],
  ['legal name blank', entity((p) => (p.legalName = ' \t')), `${E}.legalName`, 'missing'],
  ['legal name too long', entity((p) => (p.legalName = long)), `${E}.legalName`, `${textCharsMax + 1} characters, at most ${textCharsMax}`],
  ['roles missing', entity((p) => (p.roles = [])), `${E}.roles`, 'missing'],
  ['role unspecified', entity((p) => (p.roles = [1, 0])), `${E}.roles[1]`, 'unspecified'],
  ['role unknown', entity((p) => (p.roles = [9 as LegalRole])), `${E}.roles[0]`, 'unknown value 9'],
  ['role UNRECOGNIZED', entity((p) => (p.roles = [-1])), `${E}.roles[0]`, 'unknown value -1'],
  ['role twice', entity((p) => (p.roles = [1, 2, 1])), `${E}.roles[2]`, `duplicate of ${E}.roles[0]`],
  ['too many roles', entity((p) => (p.roles = many(() => 1))), `${E}.roles`, `${listItemsMax + 1} items, at most ${listItemsMax}`],
  ['legal representative too long', entity((p) => (p.legalRepresentative = long)), `${E}.legalRepresentative`, /at most/],
  ['legal type too long', entity((p) => (p.legalType = long)), `${E}.legalType`, /at most/],
  ['region code missing', entity((p) => (p.regionCode = '')), `${E}.regionCode`, 'missing'],
  ['region code 5 digits', entity((p) => (p.regionCode = '53010')), `${E}.regionCode`, 'must be 6 digits (GB/T 2260)'],
  ['region code with a letter', entity((p) => (p.regionCode = '53010A')), `${E}.regionCode`, 'must be 6 digits (GB/T 2260)'],
  ['registered capital not decimal', entity((p) => (p.registeredCapital = '500万')), `${E}.registeredCapital`, /decimal yuan/],
  ['registered capital with separators', entity((p) => (p.registeredCapital = '5,000,000')), `${E}.registeredCapital`, /decimal yuan/],
  ['legal status too long', entity((p) => (p.legalStatus = long)), `${E}.legalStatus`, /at most/],
]);

const C = 'record.certificateRecord';
rules('certificate record', [
  ['certificate missing', certificate((c) => (c.certificateDer = Buffer.alloc(0))), `${C}.certificateDer`, 'missing'],
  ['certificate too large', certificate((c) => (c.certificateDer = der(certificateBytesMax + 1))), `${C}.certificateDer`, `${certificateBytesMax + 1} bytes, at most ${certificateBytesMax}`],
  ['certificate not DER', certificate((c) => (c.certificateDer = Buffer.from('-----BEGIN CERTIFICATE-----'))), `${C}.certificateDer`, /not DER/],
  ['holder missing', certificate((c) => (c.holder = undefined)), `${C}.holder`, 'missing'],
  ['holder uscc invalid', certificate((c) => (c.holder = { $case: 'entityUscc', value: legacyUscc })), `${C}.entityUscc`, /check character/],
  ['holder uscc empty', certificate((c) => (c.holder = { $case: 'entityUscc', value: '' })), `${C}.entityUscc`, 'missing'],
  ['holder expert ref invalid', certificate((c) => (c.holder = { $case: 'expertRef', value: 'km e 1' })), `${C}.expertRef`, /\[A-Za-z0-9._-\]/],
]);

const R = 'record.certificateRevocation';
rules('certificate revocation', [
  ['serial missing', revocation((r) => (r.serialNumber = '')), `${R}.serialNumber`, 'missing'],
  ['serial upper case', revocation((r) => (r.serialNumber = '1A2B')), `${R}.serialNumber`, /lowercase hex/],
  ['serial leading zero', revocation((r) => (r.serialNumber = '01a2b')), `${R}.serialNumber`, /without leading zeros/],
  ['serial longer than 20 octets', revocation((r) => (r.serialNumber = '1' + '0'.repeat(40))), `${R}.serialNumber`, /at most 40/],
  ['issuer hash missing', revocation((r) => (r.issuerNameHash = '')), `${R}.issuerNameHash`, 'missing'],
  ['issuer hash short', revocation((r) => (r.issuerNameHash = 'ab'.repeat(31))), `${R}.issuerNameHash`, /64 lowercase hex/],
  ['issuer hash upper case', revocation((r) => (r.issuerNameHash = 'AB'.repeat(32))), `${R}.issuerNameHash`, /64 lowercase hex/],
  ['revoked at missing', revocation((r) => (r.revokedAtMs = 0n)), `${R}.revokedAtMs`, 'missing'],
  ['revoked before 1970', revocation((r) => (r.revokedAtMs = -5n)), `${R}.revokedAtMs`, '-5 is before 1970'],
  ['revoked beyond the Date range', revocation((r) => (r.revokedAtMs = 8_640_000_000_000_001n)), `${R}.revokedAtMs`, /beyond the Date range/],
  ['reason unspecified', revocation((r) => (r.reason = 0)), `${R}.reason`, 'unspecified'],
  ['reason unknown', revocation((r) => (r.reason = 5 as RevocationReason)), `${R}.reason`, 'unknown value 5'],
  ['CRL not DER', revocation((r) => (r.crlDer = Buffer.from('crl'))), `${R}.crlDer`, /not DER/],
  ['CRL larger than an entry', revocation((r) => (r.crlDer = der(entryBytesMax + 1))), `${R}.crlDer`, /at most/],
]);

const S = 'record.sanctionIssue';
rules('sanction issue', [
  ['id missing', sanction((s) => (s.sanctionId = '')), `${S}.sanctionId`, 'missing'],
  ['id with surrounding space', sanction((s) => (s.sanctionId = 'KM-1 ')), `${S}.sanctionId`, 'leading or trailing whitespace'],
  ['id with a control character', sanction((s) => (s.sanctionId = 'KM\u00071')), `${S}.sanctionId`, 'control characters'],
  ['id too long', sanction((s) => (s.sanctionId = 'k'.repeat(identifierCharsMax + 1))), `${S}.sanctionId`, /at most 128/],
  ['subject missing', sanction((s) => (s.subject = undefined)), `${S}.subject`, 'missing'],
  ['subject id missing', sanction((s) => (s.subject = { id: undefined, name: 'x' })), `${S}.subject.id`, 'missing'],
  ['subject uscc invalid', sanction((s) => (s.subject = { id: { $case: 'uscc', value: legacyUscc }, name: 'x' })), `${S}.subject.uscc`, /check character/],
  ['entity subject without a name', sanction((s) => (s.subject!.name = '')), `${S}.subject.name`, 'missing'],
  ['expert subject ref invalid', sanction((s) => (s.subject = { id: { $case: 'expertRef', value: '' }, name: '' })), `${S}.subject.expertRef`, 'missing'],
  ['expert subject name too long', sanction((s) => (s.subject = { id: { $case: 'expertRef', value: 'e1' }, name: long })), `${S}.subject.name`, /at most/],
  ['list type unspecified', sanction((s) => (s.listType = 0)), `${S}.listType`, 'unspecified'],
  ['grounds missing', sanction((s) => (s.grounds = '')), `${S}.grounds`, 'missing'],
  ['grounds too long', sanction((s) => (s.grounds = long)), `${S}.grounds`, /at most/],
  ['grounds category unspecified', sanction((s) => (s.groundsCategory = 0)), `${S}.groundsCategory`, 'unspecified'],
  ['grounds category unknown', sanction((s) => (s.groundsCategory = 6 as GroundsCategory)), `${S}.groundsCategory`, 'unknown value 6'],
  ['deciding authority missing', sanction((s) => (s.decidingAuthority = '')), `${S}.decidingAuthority`, 'missing'],
  ['document code missing', sanction((s) => (s.documentCode = '')), `${S}.documentCode`, 'missing'],
  ['scope too long', sanction((s) => (s.scope = many((i) => `sector ${i}`))), `${S}.scope`, /at most 64/],
  ['scope sector blank', sanction((s) => (s.scope = ['工程建设', ''])), `${S}.scope[1]`, 'missing'],
  ['scope sector twice', sanction((s) => (s.scope = ['工程建设', '工程建设'])), `${S}.scope[1]`, /duplicate/],
  ['restriction unspecified', sanction((s) => (s.restriction = 0)), `${S}.restriction`, 'unspecified'],
  ['restriction period missing', sanction((s) => (s.restrictionPeriod = undefined)), `${S}.restrictionPeriod`, 'missing'],
  ['restriction period open-ended', sanction((s) => (s.restrictionPeriod!.untilMs = 0n)), `${S}.restrictionPeriod.untilMs`, 'missing'],
  ['restriction period without start', sanction((s) => (s.restrictionPeriod!.fromMs = 0n)), `${S}.restrictionPeriod.fromMs`, 'missing'],
  ['restriction period empty', sanction((s) => (s.restrictionPeriod!.untilMs = t0)), `${S}.restrictionPeriod.untilMs`, `${t0} is not after fromMs ${t0}`],
  ['restriction period reversed', sanction((s) => (s.restrictionPeriod!.untilMs = t0 - day)), `${S}.restrictionPeriod.untilMs`, /is not after fromMs/],
  ['publication period missing', sanction((s) => (s.publicationPeriod = undefined)), `${S}.publicationPeriod`, 'missing'],
  ['publication period reversed', sanction((s) => (s.publicationPeriod = { fromMs: t0, untilMs: t0 - 1n })), `${S}.publicationPeriod.untilMs`, /is not after fromMs/],
  ['decided at missing', sanction((s) => (s.decidedAtMs = 0n)), `${S}.decidedAtMs`, 'missing'],
]);

const L = 'record.sanctionLift';
rules('sanction lift', [
  ['id missing', lift((l) => (l.sanctionId = '')), `${L}.sanctionId`, 'missing'],
  ['id with surrounding space', lift((l) => (l.sanctionId = ' KM-1')), `${L}.sanctionId`, 'leading or trailing whitespace'],
  ['reason unspecified', lift((l) => (l.reason = 0)), `${L}.reason`, 'unspecified'],
  ['explanation missing', lift((l) => (l.explanation = '')), `${L}.explanation`, 'missing'],
  ['effective at missing', lift((l) => (l.effectiveAtMs = 0n)), `${L}.effectiveAtMs`, 'missing'],
]);

const X = 'record.expertProfile';
rules('expert profile', [
  ['ref missing', expert((e) => (e.expertRef = '')), `${X}.expertRef`, 'missing'],
  ['ref with a space', expert((e) => (e.expertRef = 'km e')), `${X}.expertRef`, 'must be 1-64 characters of [A-Za-z0-9._-]'],
  ['ref in Chinese', expert((e) => (e.expertRef = '张三')), `${X}.expertRef`, /1-64 characters/],
  ['ref too long', expert((e) => (e.expertRef = 'e'.repeat(65))), `${X}.expertRef`, /1-64 characters/],
  ['ref shaped like an 18-digit ID card', expert((e) => (e.expertRef = '53010219800101123X')), `${X}.expertRef`, /pseudonymous/],
  ['ref shaped like a 15-digit ID card', expert((e) => (e.expertRef = '530102800101123')), `${X}.expertRef`, /pseudonymous/],
  ['ref shaped like a mobile number', expert((e) => (e.expertRef = '13800138000')), `${X}.expertRef`, /pseudonymous/],
  ['specialties missing', expert((e) => (e.specialtyCodes = [])), `${X}.specialtyCodes`, 'missing'],
  ['specialty outside A/B/C', expert((e) => (e.specialtyCodes = ['D01'])), `${X}.specialtyCodes[0]`, /A, B or C/],
  ['specialty lowercase', expert((e) => (e.specialtyCodes = ['a08'])), `${X}.specialtyCodes[0]`, /A, B or C/],
  ['specialty odd digits', expert((e) => (e.specialtyCodes = ['A080'])), `${X}.specialtyCodes[0]`, /2, 4 or 6 digits/],
  ['specialty letter only', expert((e) => (e.specialtyCodes = ['A'])), `${X}.specialtyCodes[0]`, /2, 4 or 6 digits/],
  ['specialty longer than 7', expert((e) => (e.specialtyCodes = ['A0801011'])), `${X}.specialtyCodes[0]`, /2, 4 or 6 digits/],
  ['specialty empty', expert((e) => (e.specialtyCodes = ['A08', ''])), `${X}.specialtyCodes[1]`, 'missing'],
  ['specialty twice', expert((e) => (e.specialtyCodes = ['A08', 'B02', 'A08'])), `${X}.specialtyCodes[2]`, `duplicate of ${X}.specialtyCodes[0]`],
  ['too many specialties', expert((e) => (e.specialtyCodes = many((i) => `A${String(i).padStart(2, '0')}`))), `${X}.specialtyCodes`, /at most 64/],
  ['employer uscc invalid', expert((e) => (e.employment[1]!.employerUscc = legacyUscc)), `${X}.employment[1].employerUscc`, /check character/],
  ['employer uscc missing', expert((e) => (e.employment[0]!.employerUscc = '')), `${X}.employment[0].employerUscc`, 'missing'],
  ['employment period missing', expert((e) => (e.employment[0]!.period = undefined)), `${X}.employment[0].period`, 'missing'],
  ['employment without start', expert((e) => (e.employment[1]!.period!.fromMs = 0n)), `${X}.employment[1].period.fromMs`, 'missing'],
  ['employment reversed', expert((e) => (e.employment[0]!.period!.untilMs = t0 - 1000n * day)), `${X}.employment[0].period.untilMs`, /is not after fromMs/],
  ['too many employments', expert((e) => (e.employment = many(() => e.employment[0]!))), `${X}.employment`, /at most 64/],
  ['region code invalid', expert((e) => (e.regionCode = '5301')), `${X}.regionCode`, 'must be 6 digits (GB/T 2260)'],
  ['status unspecified', expert((e) => (e.status = 0)), `${X}.status`, 'unspecified'],
  ['status unknown', expert((e) => (e.status = 3 as ExpertStatus)), `${X}.status`, 'unknown value 3'],
]);

const A = 'record.expertAvailability';
rules('expert availability', [
  ['ref invalid', availability((a) => (a.expertRef = 'a/b')), `${A}.expertRef`, /1-64 characters/],
  ['window open-ended', availability((a) => (a.windows[0]!.untilMs = 0n)), `${A}.windows[0].untilMs`, 'missing'],
  ['window reversed', availability((a) => a.windows.push({ fromMs: t0 + day, untilMs: t0 })), `${A}.windows[1].untilMs`, /is not after fromMs/],
  ['too many windows', availability((a) => (a.windows = many((i) => ({ fromMs: t0 + BigInt(i) * day, untilMs: t0 + BigInt(i + 1) * day })))), `${A}.windows`, /at most 64/],
]);

const G = 'record.governanceProposal';
const M = `${G}.addMember.member`;
rules('governance proposal', [
  ['reason missing', proposal({ $case: 'changeQuorum', value: 2 }, (p) => (p.reason = '')), `${G}.reason`, 'missing'],
  ['action missing', proposal(undefined), `${G}.action`, 'missing'],
  ['member key missing', addMember((m) => (m.publicKey = Buffer.alloc(0))), `${M}.publicKey`, 'missing'],
  ['member key compressed', addMember((m) => (m.publicKey = Buffer.concat([Buffer.from([0x02]), Buffer.alloc(32, 1)]))), `${M}.publicKey`, '33 bytes, expected 65'],
  ['member key not uncompressed', addMember((m) => (m.publicKey = Buffer.concat([Buffer.from([0x03]), Buffer.alloc(64, 1)]))), `${M}.publicKey`, /first byte must be 0x04/],
  ['member city missing', addMember((m) => (m.city = '')), `${M}.city`, 'missing'],
  ['member region invalid', addMember((m) => (m.regionCode = 'KM')), `${M}.regionCode`, 'must be 6 digits (GB/T 2260)'],
  ['endpoint without port', addMember((m) => (m.endpoints = ['node.km.example'])), `${M}.endpoints[0]`, /host:port/],
  ['endpoint port 0', addMember((m) => (m.endpoints = ['a:1', 'node.km.example:0'])), `${M}.endpoints[1]`, /port 1-65535/],
  ['endpoint port too large', addMember((m) => (m.endpoints = ['node.km.example:65536'])), `${M}.endpoints[0]`, /port 1-65535/],
  ['endpoint with a space', addMember((m) => (m.endpoints = ['node km:7443'])), `${M}.endpoints[0]`, /host:port/],
  ['endpoint blank', addMember((m) => (m.endpoints = [''])), `${M}.endpoints[0]`, 'missing'],
  ['too many endpoints', addMember((m) => (m.endpoints = many((i) => `n${i}:7443`))), `${M}.endpoints`, /at most 64/],
  ['member roles missing', addMember((m) => (m.roles = [])), `${M}.roles`, 'missing'],
  ['member role unknown', addMember((m) => (m.roles = [4 as MemberRole])), `${M}.roles[0]`, 'unknown value 4'],
  ['member role twice', addMember((m) => (m.roles = [2, 2])), `${M}.roles[1]`, /duplicate/],
  ['peer id with a space', addMember((m) => (m.libp2pPeerId = '12D3 Koo')), `${M}.libp2pPeerId`, /letters and digits/],
  ['peer id too long', addMember((m) => (m.libp2pPeerId = 'p'.repeat(identifierCharsMax + 1))), `${M}.libp2pPeerId`, /at most/],
  ['suspend: node id short', proposal({ $case: 'suspendMember', value: Buffer.alloc(31) }), `${G}.suspendMember`, '31 bytes, expected 32'],
  ['reinstate: node id missing', proposal({ $case: 'reinstateMember', value: Buffer.alloc(0) }), `${G}.reinstateMember`, 'missing'],
  ['remove: node id long', proposal({ $case: 'removeMember', value: Buffer.alloc(33) }), `${G}.removeMember`, '33 bytes, expected 32'],
  ['trust CA: not DER', proposal({ $case: 'trustCa', value: Buffer.from('pem') }), `${G}.trustCa`, /not DER/],
  ['trust CA: too large', proposal({ $case: 'trustCa', value: der(certificateBytesMax + 1) }), `${G}.trustCa`, /at most/],
  ['distrust CA: not a digest', proposal({ $case: 'distrustCa', value: Buffer.alloc(20) }), `${G}.distrustCa`, '20 bytes, expected 32'],
  ['change roles: node id', proposal({ $case: 'changeRoles', value: { nodeId: Buffer.alloc(0), roles: [1] } }), `${G}.changeRoles.nodeId`, 'missing'],
  ['change roles: none', proposal({ $case: 'changeRoles', value: { nodeId, roles: [] } }), `${G}.changeRoles.roles`, 'missing'],
  ['change roles: unspecified', proposal({ $case: 'changeRoles', value: { nodeId, roles: [0] } }), `${G}.changeRoles.roles[0]`, 'unspecified'],
  ['change quorum to 0', proposal({ $case: 'changeQuorum', value: 0 }), `${G}.changeQuorum`, 'must be at least 1'],
  ['rotate: node id', rotateKey((k) => (k.nodeId = Buffer.alloc(16))), `${G}.rotateKey.nodeId`, '16 bytes, expected 32'],
  ['rotate: new key', rotateKey((k) => (k.newPublicKey = Buffer.alloc(65))), `${G}.rotateKey.newPublicKey`, /0x04/],
  ['rotate: signature missing', rotateKey((k) => (k.newKeySignature = Buffer.alloc(0))), `${G}.rotateKey.newKeySignature`, 'missing'],
  ['rotate: signature neither raw nor DER', rotateKey((k) => (k.newKeySignature = Buffer.alloc(70, 1))), `${G}.rotateKey.newKeySignature`, /neither raw/],
  ['rotate: DER signature too long', rotateKey((k) => (k.newKeySignature = der(73))), `${G}.rotateKey.newKeySignature`, /neither raw/],
  ['rotate: TLS certificate not DER', rotateKey((k) => (k.newTlsCertificate = Buffer.from('pem'))), `${G}.rotateKey.newTlsCertificate`, /not DER/],
  ['admission without proof of possession', proposal({ $case: 'addMember', value: { member: member(), possessionSignature: Buffer.alloc(0) } }), `${G}.addMember.possessionSignature`, 'missing'],
  ['admission without member', proposal({ $case: 'addMember', value: { member: undefined, possessionSignature: Buffer.alloc(64) } }), `${G}.addMember.member`, 'missing'],
  ['member TLS certificate not DER', addMember((m) => (m.tlsCertificate = Buffer.from('x'))), `${M}.tlsCertificate`, /not DER/],
  ['gossip address not a multiaddr', addMember((m) => (m.gossipAddresses = ['127.0.0.1:7402'])), `${M}.gossipAddresses[0]`, /multiaddr/],
  ['recognition: list type unspecified', proposal({ $case: 'changeRecognition', value: { rules: [{ listType: 0, grounds: [], minRestrictionMs: 0n }] } }), `${G}.changeRecognition.rules[0].listType`, 'unspecified'],
  ['recognition: negative period', proposal({ $case: 'changeRecognition', value: { rules: [{ listType: 1, grounds: [1], minRestrictionMs: -1n }] } }), `${G}.changeRecognition.rules[0].minRestrictionMs`, /negative/],
  ['quorum lift: issuer', proposal({ $case: 'liftSanction', value: { issuer: Buffer.alloc(3), sanctionId: 'KM-1' } }), `${G}.liftSanction.issuer`, '3 bytes, expected 32'],
]);

const O = 'record.sanctionOptOut';
const optOut = (edit: Edit<SanctionOptOut> = keep): Record => {
  const value: SanctionOptOut = { issuer: Buffer.alloc(32, 7), sanctionId: 'KM-2025-001', reason: 'decided before our accession', withdrawn: false };
  edit(value);
  return { kind: { $case: 'sanctionOptOut', value } };
};
rules('sanction opt-out', [
  ['issuer missing', optOut((o) => (o.issuer = Buffer.alloc(0))), `${O}.issuer`, 'missing'],
  ['reason missing', optOut((o) => (o.reason = '')), `${O}.reason`, 'missing'],
  ['sanction id missing', optOut((o) => (o.sanctionId = '')), `${O}.sanctionId`, 'missing'],
]);

const P = 'record.governanceApproval';
rules('governance approval', [
  ['proposal hash missing', approval((a) => (a.proposalHash = Buffer.alloc(0))), `${P}.proposalHash`, 'missing'],
  ['proposal hash not 32 bytes', approval((a) => (a.proposalHash = Buffer.alloc(64))), `${P}.proposalHash`, '64 bytes, expected 32'],
]);
