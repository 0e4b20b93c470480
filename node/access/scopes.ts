// Which scope each client API method needs, whether it writes, and what it is
// about: the one table the guard (guard.ts), the OpenAPI description and
// docs/HTTP.md are made from. A method missing here is refused to everyone
// (and a test fails), so a new RPC cannot be served unguarded by accident.

/** What a client may be given; least privilege: a trading platform that only asks gets `check`. */
export const scopes = ['check', 'register', 'sanction', 'experts', 'personal-data', 'evaluation', 'governance', 'operate', 'credit'] as const;
export type Scope = (typeof scopes)[number];

export const scopeMeanings: Readonly<Record<Scope, string>> = {
  check: 'sanction checks, entity, certificate and governance lookups, login verification, alerts',
  register: 'register entities, record and revoke certificates, import CRLs, import entities and certificates',
  sanction: 'issue and lift sanctions, import sanctions, opt out of a sanction',
  experts: "register and update this node's experts and their availability, read profiles",
  'personal-data': "read experts' personal fields (name, ID number, phone) at their home node; every read is audited",
  evaluation: 'evaluation sessions: create, draw, read, audit, scores and their analysis',
  governance: 'propose and approve alliance changes (each call also signed by an approver key)',
  operate: 'node status, backup, membership snapshots, exports, access management and the audit trail',
  credit: 'record and lift credit records (performance evaluations, venue misconduct, mutual evaluations, ratings, honours), import credit records',
};

export const isScope = (value: string): value is Scope => (scopes as readonly string[]).includes(value);

type Request = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface MethodRule {
  readonly scope: Scope;
  /** Writes are audited, and so is every refusal; `audit` marks reads that are audited too. */
  readonly write?: boolean;
  /** Audited even though it writes nothing (reads of personal data, whole-store backups), when this says so. */
  readonly audit?: (request: Request) => boolean;
  /** Scopes the request needs beyond `scope` (e.g. personal fields asked for), and when, for the docs. */
  readonly also?: (request: Request) => readonly Scope[];
  readonly alsoWhen?: string;
  /** Needs an approver's SM2 signature over the exact request (governance.ts, the second factor). */
  readonly approval?: boolean;
  /** What the call is about, for the audit trail. */
  readonly subject?: (request: Request) => string;
}

/** Beyond `register`, by TransferKind: sanctions need `sanction`; experts (their personal fields) `experts` and `personal-data`. */
const importScopes = (request: Request): readonly Scope[] => (request?.kind === 2 ? ['sanction'] : request?.kind === 4 ? ['experts', 'personal-data'] : []);
const importScopesWhen = 'sanction for sanction imports; experts and personal-data for expert imports';
const always = () => true;
const hex = (bytes: Uint8Array | undefined) => (bytes && bytes.length > 0 ? Buffer.from(bytes).toString('hex') : '');

/** Keyed by gRPC path; HTTP routes map to the same paths. */
export const methodRules: Readonly<Record<string, MethodRule>> = {
  '/tongxing.api.v1.EntityService/RegisterEntity': { scope: 'register', write: true, subject: (r) => r.profile?.uscc ?? '' },
  '/tongxing.api.v1.EntityService/UpdateEntity': { scope: 'register', write: true, subject: (r) => r.profile?.uscc ?? '' },
  '/tongxing.api.v1.EntityService/GetEntity': { scope: 'check' },
  '/tongxing.api.v1.SanctionService/IssueSanction': { scope: 'sanction', write: true, subject: (r) => [r.sanction?.sanctionId, r.sanction?.subject?.id?.value].filter(Boolean).join(' ') },
  '/tongxing.api.v1.SanctionService/LiftSanction': { scope: 'sanction', write: true, subject: (r) => r.lift?.sanctionId ?? '' },
  '/tongxing.api.v1.SanctionService/CheckSanctions': { scope: 'check' },
  '/tongxing.api.v1.NodeService/GetStatus': { scope: 'operate' },
  '/tongxing.api.v1.NodeService/Backup': { scope: 'operate', audit: always, subject: () => 'whole store' },
  '/tongxing.api.v1.CertificateService/RecordCertificate': { scope: 'register', write: true, subject: (r) => r.record?.holder?.id?.value ?? '' },
  '/tongxing.api.v1.CertificateService/RevokeCertificate': { scope: 'register', write: true, subject: (r) => r.revocation?.serialNumber ?? '' },
  '/tongxing.api.v1.CertificateService/ImportCrl': { scope: 'register', write: true },
  '/tongxing.api.v1.CertificateService/GetCertificate': { scope: 'check' },
  '/tongxing.api.v1.CertificateService/IssueChallenge': { scope: 'check' },
  '/tongxing.api.v1.CertificateService/VerifyLogin': { scope: 'check' },
  '/tongxing.api.v1.AlertService/ListAlerts': { scope: 'check' },
  '/tongxing.api.v1.TransferService/ImportRecords': { scope: 'register', write: true, also: importScopes, alsoWhen: importScopesWhen, subject: (r) => `${r.items?.length ?? 0} rows` },
  '/tongxing.api.v1.TransferService/StageImport': { scope: 'register', write: true, also: importScopes, alsoWhen: importScopesWhen, subject: (r) => r.importId || 'new import' },
  '/tongxing.api.v1.TransferService/CommitImport': { scope: 'register', write: true, subject: (r) => r.importId ?? '' },
  '/tongxing.api.v1.TransferService/GetImport': { scope: 'register', subject: (r) => r.importId ?? '' },
  '/tongxing.api.v1.TransferService/AbortImport': { scope: 'register', write: true, subject: (r) => r.importId ?? '' },
  '/tongxing.api.v1.TransferService/ExportRecords': {
    scope: 'operate',
    audit: always,
    also: (r) => (r.includePersonal ? ['personal-data'] : []),
    alsoWhen: "personal-data for experts' personal fields",
  },
  '/tongxing.api.v1.ExpertService/RegisterExpert': { scope: 'experts', write: true, also: () => ['personal-data'], alsoWhen: 'personal-data (it carries personal fields)' },
  '/tongxing.api.v1.ExpertService/UpdateExpert': { scope: 'experts', write: true, subject: (r) => r.profile?.expertRef ?? '' },
  '/tongxing.api.v1.ExpertService/SetAvailability': { scope: 'experts', write: true, subject: (r) => r.availability?.expertRef ?? '' },
  '/tongxing.api.v1.ExpertService/GetExpert': {
    scope: 'experts',
    also: (r) => (r.includePersonal ? ['personal-data'] : []),
    alsoWhen: 'personal-data for personal fields',
    audit: (r) => r.includePersonal === true,
    subject: (r) => r.expertRef ?? '',
  },
  '/tongxing.api.v1.EvaluationService/CreateSession': { scope: 'evaluation', write: true, subject: (r) => r.session?.sessionId ?? '' },
  '/tongxing.api.v1.EvaluationService/DrawExperts': { scope: 'evaluation', write: true, subject: (r) => r.sessionId ?? '' },
  '/tongxing.api.v1.EvaluationService/GetSession': { scope: 'evaluation' },
  '/tongxing.api.v1.EvaluationService/AuditDraw': { scope: 'evaluation' },
  '/tongxing.api.v1.EvaluationService/SubmitScores': { scope: 'evaluation', write: true },
  '/tongxing.api.v1.EvaluationService/AnalyzeScores': { scope: 'evaluation' },
  '/tongxing.api.v1.GovernanceService/Propose': { scope: 'governance', write: true, approval: true, subject: (r) => r.proposal?.action?.$case ?? '' },
  '/tongxing.api.v1.GovernanceService/Approve': { scope: 'governance', write: true, approval: true, subject: (r) => hex(r.proposalHash) },
  '/tongxing.api.v1.GovernanceService/GetGovernance': { scope: 'check' },
  '/tongxing.api.v1.GovernanceService/OptOut': { scope: 'sanction', write: true, subject: (r) => r.optOut?.sanctionId ?? '' },
  '/tongxing.api.v1.GovernanceService/GetSnapshot': { scope: 'operate' },
  '/tongxing.api.v1.AccessService/GrantAccess': { scope: 'operate', write: true, subject: (r) => r.grant?.name ?? '' },
  '/tongxing.api.v1.AccessService/ListClients': { scope: 'operate' },
  '/tongxing.api.v1.AccessService/RevokeAccess': { scope: 'operate', write: true, subject: (r) => r.name ?? '' },
  '/tongxing.api.v1.AccessService/RotateAccess': { scope: 'operate', write: true, subject: (r) => r.name ?? '' },
  '/tongxing.api.v1.AccessService/ListAudit': { scope: 'operate' },
  '/tongxing.api.v1.CreditService/RecordCredit': { scope: 'credit', write: true, subject: (r) => [r.record?.kind?.value?.header?.recordId, r.record?.kind?.value?.header?.subject?.id?.value].filter(Boolean).join(' ') },
  '/tongxing.api.v1.CreditService/LiftCredit': { scope: 'credit', write: true, subject: (r) => r.lift?.recordId ?? '' },
  '/tongxing.api.v1.CreditService/GetCreditIndex': { scope: 'check' },
  '/tongxing.api.v1.CreditService/ListExpertCredit': { scope: 'check' },
  '/tongxing.api.v1.CreditService/GetEvaluationBonus': { scope: 'check' },
  '/tongxing.api.v1.CreditService/CheckTender': { scope: 'check', subject: (r) => r.projectCode ?? '' },
  '/tongxing.api.v1.ConsoleService/GetConsoleSession': { scope: 'check' },
  '/tongxing.api.v1.ConsoleService/ListEntities': { scope: 'check' },
};

/** The table docs/HTTP.md shows (scripts/scopes-doc.ts writes it; test/docs.test.ts checks it). */
export function scopeTable(): string {
  const rows = Object.entries(methodRules).map(([path, rule]) => {
    const [service, method] = path.slice('/tongxing.api.v1.'.length).split('/');
    const also = rule.approval ? ' + approver signature' : rule.alsoWhen ? `, ${rule.alsoWhen}` : '';
    return `| \`${service}/${method}\` | \`${rule.scope}\`${also} | ${rule.write ? 'write' : rule.audit ? 'read, audited' : 'read'} |`;
  });
  const meanings = scopes.map((s) => `| \`${s}\` | ${scopeMeanings[s]} |`);
  return ['| scope | allows |', '| --- | --- |', ...meanings, '', '| method | needs | audit |', '| --- | --- | --- |', ...rows, ''].join('\n');
}
