import { createI18n } from 'vue-i18n';

// zh-CN first: the console's users are the staff of Chinese trading centers.
// English for the alliance's integrators and for review. Codes the node sends
// (USCCs, sanction ids, gRPC code names, its error messages) are shown as sent.

const zhCN = {
  app: { title: '通行 · 节点控制台', node: '{city}节点', signOut: '退出', language: '语言', operator: '操作员', client: '客户端' },
  nav: { overview: '联盟概览', lookup: '查询', work: '业务办理', governance: '联盟治理', operations: '运维' },
  signIn: {
    title: '登录节点控制台',
    intro: '使用本节点登记的客户端令牌登录（tongxing access grant 名称 --token --scopes ...）。操作员姓名记入审计日志。',
    token: '客户端令牌',
    operator: '操作员姓名',
    submit: '登录',
    failed: '登录失败',
  },
  common: {
    refresh: '刷新', search: '查询', submit: '提交', yes: '是', no: '否', none: '无', loading: '加载中…', nextPage: '下一页', firstPage: '第一页',
    needsScope: '需要权限 {scope}：当前客户端 {client} 没有此权限', refused: '节点拒绝', done: '已完成', city: '城市', time: '时间', reason: '原因',
    provenance: '已写入 {city} 日志第 {seq} 条', download: '下载', optional: '（可选）',
  },
  overview: {
    epoch: '纪元', quorum: '法定人数', members: '成员', entries: '本地条目', ingest: '写入速率', storeSize: '存储大小', uptime: '运行时间',
    memberCity: '成员城市', region: '行政区划', link: '链路', connected: '已连接', disconnected: '未连接', self: '本节点',
    behind: '落后条目', lag: '落后时长', freshness: '数据新鲜度', left: '剩余 {time}', stale: '已超时', neverHeard: '尚未收到',
    breaches: '超时次数', equivocation: '分叉/隔离', equivocated: '已分叉，隔离中', ok: '正常', status: '成员状态',
    equivocationBanner: '有成员签署了相互矛盾的日志头：其记录已隔离，等待联盟治理处理。',
    needsOperate: '链路、落后和新鲜度需要 operate 权限；以下仅显示成员名单。',
    ingestChart: '写入速率（条/秒，控制台每 2 秒采样，最近一小时）', budget: '新鲜度预算 {time}',
  },
  lookup: {
    company: '企业', certificate: '证书', expert: '专家', query: '统一社会信用代码或企业名称', asOf: '查询时点（留空为现在）',
    profile: '登记信息', uscc: '统一社会信用代码', legalName: '企业名称', representative: '法定代表人', legalType: '企业类型', capital: '注册资本',
    legalStatus: '经营状态', roles: '主体角色', home: '归属节点', alsoRegistered: '其他成员登记', notFound: '联盟内未登记 {uscc}',
    verdict: '结论', clear: '无限制，可参与交易', restricted: '受限', unknownStale: '无法确认：有成员数据已超时', sanctions: '有效失信记录',
    issuer: '发布城市', sanctionId: '编号', listType: '名单类型', grounds: '事由', scope: '适用范围', restriction: '限制措施',
    restrictionPeriod: '限制期', publicationPeriod: '公示期', binds: '本地生效', why: '依据', quarantined: '已隔离',
    evidence: '下载证据包（本节点签名）', matches: '名称匹配的企业（服务端分页，按信用代码排序）', scanned: '本页扫描 {n} 家',
    certFile: '证书文件（PEM 或 DER）', issuerHash: '颁发者名称哈希', serial: '序列号', standing: '证书状态', holder: '持有人',
    subject: '主题', caRoot: '根证书', validity: '有效期', revocations: '吊销记录', expertRef: '专家编号', specialties: '专业', availability: '可用时段',
    expertStatus: '状态', live: '自动更新中',
  },
  work: {
    sanctions: '失信惩戒', entities: '主体登记', certificates: '证书', import: '批量导入', alerts: '关注提醒', evaluation: '评标',
    issue: '发布失信记录', lift: '解除', optOut: '本地不执行', subjectUscc: '主体信用代码', subjectName: '主体名称（留空取登记名称）',
    decidingAuthority: '决定机关', documentCode: '文书编号', from: '起始', until: '截止', liftReason: '解除原因', explanation: '说明',
    issuerNode: '发布节点', register: '登记主体', update: '更新主体', record: '登记证书', revoke: '吊销证书', holderUscc: '持有企业信用代码',
    revokedAt: '吊销时间', kind: '数据类型', file: '文件（数据规范 JSON）', dryRun: '仅校验', importRows: '导入', rows: '行', row: '行号', field: '字段',
    importProgress: '导入进度', importDone: '已写入：新增 {created}，更新 {updated}，未变 {unchanged}', importRefused: '未写入任何数据：{n} 行有错误',
    rowErrorsHere: '以下行有错误（行号从 1 起，与文件一致）', sessionId: '评标项目编号', loadSession: '查看', audit: '复核抽取', analysis: '评分分析',
    panel: '抽取结果', verdict: '复核结论', checks: '检查项', deviation: '偏离度', watcher: '关注城市', loginAt: '登录城市',
  },
  governance: {
    proposals: '待审议提案', members: '成员与角色', action: '事项', summary: '内容', author: '提议城市', approvals: '同意', state: '状态',
    approve: '同意', approved: '已同意', approverKey: '审批密钥（SM2 私钥 PEM，仅在本页内存中使用）', keyLoaded: '已载入审批密钥 {key}',
    needsApprover: '此客户端未登记审批密钥（access grant --approver-key）', history: '全部提案', roles: '角色', status: '状态',
    pending: '待审议', applied: '已生效', noEffect: '无效果', staleState: '已过期',
  },
  operations: {
    health: '节点状态', serving: '服务中', storeSize: '存储大小', entries: '条目', uptime: '运行时间', backups: '备份',
    backupHow: '在节点所在机器上执行（包含本节点私有数据，须用节点密钥签名）：', access: '访问登记', name: '名称', scopes: '权限',
    credential: '凭据', created: '登记时间', revoked: '已吊销', expires: '到期', grant: '登记客户端', tokenOnce: '新令牌（只显示一次）：',
    revoke: '吊销', audit: '审计日志', client: '客户端', since: '起始时间', limit: '条数上限', method: '调用', subject: '对象', outcome: '结果',
    detail: '说明', transport: '通道', diagnostics: '下载诊断包', truncated: '还有更早的匹配记录：缩小起始时间查看', note: '备注',
  },
};

type Messages = typeof zhCN;

const en: Messages = {
  app: { title: 'Tongxing · node console', node: '{city} node', signOut: 'Sign out', language: 'Language', operator: 'Operator', client: 'Client' },
  nav: { overview: 'Alliance', lookup: 'Look up', work: 'Work', governance: 'Governance', operations: 'Operations' },
  signIn: {
    title: 'Sign in to the node console',
    intro: "Sign in with a client token registered at this node (tongxing access grant NAME --token --scopes ...). The operator's name goes into the audit trail.",
    token: 'Client token',
    operator: "Operator's name",
    submit: 'Sign in',
    failed: 'Sign-in failed',
  },
  common: {
    refresh: 'Refresh', search: 'Search', submit: 'Submit', yes: 'yes', no: 'no', none: 'none', loading: 'Loading…', nextPage: 'Next page', firstPage: 'First page',
    needsScope: 'Needs the scope {scope}: client {client} does not have it', refused: 'Refused by the node', done: 'Done', city: 'City', time: 'Time', reason: 'Reason',
    provenance: 'Written to the {city} log, entry {seq}', download: 'Download', optional: '(optional)',
  },
  overview: {
    epoch: 'Epoch', quorum: 'Quorum', members: 'Members', entries: 'Entries here', ingest: 'Ingest', storeSize: 'Store size', uptime: 'Uptime',
    memberCity: 'Member', region: 'Region', link: 'Link', connected: 'connected', disconnected: 'disconnected', self: 'this node',
    behind: 'Entries behind', lag: 'Behind for', freshness: 'Freshness', left: '{time} left', stale: 'stale', neverHeard: 'not heard yet',
    breaches: 'Breaches', equivocation: 'Equivocation', equivocated: 'equivocated, quarantined', ok: 'ok', status: 'Status',
    equivocationBanner: 'A member signed two heads that disagree: its records are quarantined until governance acts.',
    needsOperate: 'Links, lag and freshness need the operate scope; only the membership is shown.',
    ingestChart: 'Ingest (entries/s, sampled by the console every 2 s, last hour)', budget: 'freshness budget {time}',
  },
  lookup: {
    company: 'Company', certificate: 'Certificate', expert: 'Expert', query: 'USCC or company name', asOf: 'As of (empty: now)',
    profile: 'Registration', uscc: 'USCC', legalName: 'Legal name', representative: 'Legal representative', legalType: 'Type', capital: 'Registered capital',
    legalStatus: 'Status', roles: 'Roles', home: 'Home node', alsoRegistered: 'Also registered by', notFound: '{uscc} is not registered in the alliance',
    verdict: 'Verdict', clear: 'clear: may trade', restricted: 'restricted', unknownStale: "unknown: some member's data is stale", sanctions: 'Active sanctions',
    issuer: 'Issuer', sanctionId: 'Id', listType: 'List', grounds: 'Grounds', scope: 'Scope', restriction: 'Restriction',
    restrictionPeriod: 'Restriction period', publicationPeriod: 'Publication period', binds: 'Binds here', why: 'Why', quarantined: 'quarantined',
    evidence: 'Download evidence bundle (signed by this node)', matches: 'Companies by name (paged on the server, in USCC order)', scanned: '{n} scanned for this page',
    certFile: 'Certificate file (PEM or DER)', issuerHash: 'Issuer name hash', serial: 'Serial number', standing: 'Standing', holder: 'Holder',
    subject: 'Subject', caRoot: 'Root CA', validity: 'Valid', revocations: 'Revocations', expertRef: 'Expert ref', specialties: 'Specialties', availability: 'Availability',
    expertStatus: 'Status', live: 'updating live',
  },
  work: {
    sanctions: 'Sanctions', entities: 'Entities', certificates: 'Certificates', import: 'Import', alerts: 'Watch-list alerts', evaluation: 'Evaluation',
    issue: 'Issue a sanction', lift: 'Lift', optOut: 'Opt out here', subjectUscc: "Subject's USCC", subjectName: "Subject's name (empty: the registered name)",
    decidingAuthority: 'Deciding authority', documentCode: 'Document code', from: 'From', until: 'Until', liftReason: 'Reason', explanation: 'Explanation',
    issuerNode: 'Issuer node', register: 'Register', update: 'Update', record: 'Record a certificate', revoke: 'Revoke a certificate', holderUscc: "Holder's USCC",
    revokedAt: 'Revoked at', kind: 'Kind', file: 'File (data-specification JSON)', dryRun: 'Check only', importRows: 'Import', rows: 'rows', row: 'Row', field: 'Field',
    importProgress: 'Import progress', importDone: 'Written: {created} created, {updated} updated, {unchanged} unchanged', importRefused: 'Nothing was written: {n} rows have errors',
    rowErrorsHere: 'Rows with errors (numbered from 1, as in the file)', sessionId: 'Session id', loadSession: 'Show', audit: 'Audit the draw', analysis: 'Score analysis',
    panel: 'Panel', verdict: 'Audit verdict', checks: 'Checks', deviation: 'Deviation', watcher: 'Watching city', loginAt: 'Logged in at',
  },
  governance: {
    proposals: 'Pending proposals', members: 'Members and roles', action: 'Action', summary: 'What it changes', author: 'Proposed by', approvals: 'Approvals', state: 'State',
    approve: 'Approve', approved: 'Approved', approverKey: 'Approver key (SM2 private key PEM, used in this page only)', keyLoaded: 'Approver key {key} loaded',
    needsApprover: 'This client has no approver key (access grant --approver-key)', history: 'All proposals', roles: 'Roles', status: 'Status',
    pending: 'pending', applied: 'applied', noEffect: 'no effect', staleState: 'stale',
  },
  operations: {
    health: 'Node health', serving: 'serving', storeSize: 'Store size', entries: 'Entries', uptime: 'Uptime', backups: 'Backups',
    backupHow: "Run on the node's machine (includes the node's private state, signed with its key):", access: 'Access registry', name: 'Name', scopes: 'Scopes',
    credential: 'Credential', created: 'Created', revoked: 'revoked', expires: 'Expires', grant: 'Grant access', tokenOnce: 'New token (shown once):',
    revoke: 'Revoke', audit: 'Audit trail', client: 'Client', since: 'Since', limit: 'At most', method: 'Call', subject: 'Subject', outcome: 'Outcome',
    detail: 'Detail', transport: 'Transport', diagnostics: 'Download diagnostics bundle', truncated: 'More records matched: narrow the time to see them', note: 'Note',
  },
};

export const languages = [
  { code: 'zh-CN', label: '中文' },
  { code: 'en', label: 'English' },
] as const;

const stored = localStorage.getItem('tongxing.console.language');

export const i18n = createI18n({
  legacy: false,
  locale: stored === 'en' ? 'en' : 'zh-CN',
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
});

export function setLanguage(code: 'zh-CN' | 'en'): void {
  i18n.global.locale.value = code;
  localStorage.setItem('tongxing.console.language', code);
  document.documentElement.lang = code;
}
