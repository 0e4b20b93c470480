import { readFile } from 'node:fs/promises';
import { AuditVerdict, type AnalyzeScoresResponse, type DrawAttempt, type GetExpertResponse, type PanelSeat } from '../../gen/tongxing/api/v1/experts.js';
import { EvaluationDraw, EvaluationSession, Exclusion, ExpertProfile, ExpertStatus, LeaseOutcome, type Employment } from '../../gen/tongxing/records/v1/records.js';
import { readPrivateKeyPem } from '../../federation/crypto/pem.js';
import { parseCertificate } from '../../federation/crypto/x509.js';
import { signScoreSheet } from '../../federation/experts/scores.js';
import { specialtyName } from '../../federation/experts/specialty.js';
import { ApiError } from '../api/client.js';
import { withExperts, type ExpertsClient } from '../api/experts-client.js';
import { exitNegative, exitOk, many, optional, printJson, required, UsageError, type Command, type Io, type Parsed } from './command.js';
import { describeProvenance, provenanceJson } from './entity.js';
import { answered, formatTime, hex, nodeConnection, nodeIdPrefixChars, nodeOptions, nodeUsageLines, parseTime } from './node-client.js';

// `tongxing expert register|show|availability|status|audit` and
// `tongxing evaluation create|draw|show|score|analysis`: evaluation experts
// (评标专家) and remote cross-city evaluation (远程异地评标) through a node's
// client API. Personal fields go to the expert's home node only; score sheets
// are signed here, with the expert's key, which never leaves this machine.

/** As callNode, for the expert services. */
function callExperts(args: Parsed, io: Io, use: (api: ExpertsClient) => Promise<number>): Promise<number> {
  return answered(args, io, () => {
    const { address, options } = nodeConnection(args);
    return withExperts(address, use, options);
  });
}

/** A node id in hex (64 digits), for --host. */
function hostOption(args: Parsed): Buffer | undefined {
  const host = optional(args, 'host');
  if (host === undefined) return undefined;
  if (!/^[0-9a-f]{64}$/.test(host)) throw new UsageError(`--host must be a node id, 64 lowercase hex digits; got ${JSON.stringify(host)}`);
  return Buffer.from(host, 'hex');
}

/** FROM/UNTIL, each a time as parseTime reads it. */
function period(text: string, option: string): { fromMs: bigint; untilMs: bigint } {
  const [from, until, extra] = text.split('/');
  if (from === undefined || until === undefined || extra !== undefined) throw new UsageError(`${option} must be FROM/UNTIL, e.g. 2025-06-01/2025-07-01; got ${JSON.stringify(text)}`);
  return { fromMs: BigInt(parseTime(from, option)), untilMs: BigInt(parseTime(until, option)) };
}

/** USCC[:FROM[:UNTIL]] (dates; no UNTIL: still employed). */
function employment(text: string): Employment {
  const [employerUscc, from, until] = text.split(':');
  return {
    employerUscc: employerUscc ?? '',
    period: { fromMs: BigInt(from ? parseTime(from, '--employer') : Date.UTC(1970, 0, 2)), untilMs: BigInt(until ? parseTime(until, '--employer') : 0) },
    employerUsccOverride: undefined,
  };
}

const verdictNames: Record<number, string> = {
  [AuditVerdict.AUDIT_VERDICT_MATCH]: 'match',
  [AuditVerdict.AUDIT_VERDICT_MISMATCH]: 'mismatch',
  [AuditVerdict.AUDIT_VERDICT_INCOMPLETE]: 'incomplete',
};

const outcomeNames: Record<number, string> = {
  [LeaseOutcome.LEASE_OUTCOME_GRANTED]: 'granted',
  [LeaseOutcome.LEASE_OUTCOME_REFUSED]: 'refused',
  [LeaseOutcome.LEASE_OUTCOME_UNREACHABLE]: 'unreachable',
};

const statusNames: Record<number, string> = { [ExpertStatus.EXPERT_STATUS_ACTIVE]: 'active', [ExpertStatus.EXPERT_STATUS_PAUSED]: 'paused' };

function expertText(ref: string, reply: GetExpertResponse): string {
  const p = reply.profile!;
  const lines = [
    `${ref}: ${statusNames[p.status] ?? 'unspecified'}, region ${p.regionCode}, home ${describeProvenance(reply.home!)}`,
    `  specialties: ${p.specialtyCodes.map((c) => `${c} (${specialtyName(c) ?? '?'})`).join(', ')}`,
    ...p.employment.map((e) => `  employer ${e.employerUscc} from ${formatTime(Number(e.period!.fromMs))}${e.period!.untilMs === 0n ? ' (current)' : ` until ${formatTime(Number(e.period!.untilMs))}`}`),
    ...(reply.availability?.windows ?? []).map((w) => `  available ${formatTime(Number(w.fromMs))} - ${formatTime(Number(w.untilMs))}`),
    ...reply.leases.map((l) => `  leased to ${l.hostCity || hex(l.host).slice(0, nodeIdPrefixChars)} session ${l.sessionId}: ${formatTime(Number(l.slot!.fromMs))} - ${formatTime(Number(l.slot!.untilMs))}`),
  ];
  if (reply.personal) lines.push(`  personal (home node only): ${reply.personal.name}, ID ${reply.personal.idCardNumber}, phone ${reply.personal.phone || '-'}, born ${reply.personal.birthday}`);
  return lines.join('\n') + '\n';
}

// ---- expert ----

const register: Command = {
  path: ['expert', 'register'],
  summary: 'Register an evaluation expert (评标专家) at this node, its home node',
  usage: [
    '(--file EXPERT.json | --id-card NUMBER --name NAME --specialty CODE... --region CODE [options])',
    '       [--node HOST:PORT] [--json]',
    '',
    '  --file EXPERT.json  {"personal": ExpertPersonal, "profile": ExpertProfile} in the proto JSON mapping',
    '  --id-card NUMBER    resident ID number (ID_CARD, GB 11643); kept at this node only',
    '  --name NAME         EXPERT_NAME; kept at this node only',
    '  --phone NUMBER      PHONE_NUMBER; kept at this node only',
    '  --employer-name T   COMPANY as written; kept at this node only',
    '  --specialty CODE    MAJOR_CODE of classification 2018-316, e.g. A0801 (repeat for several)',
    '  --employer EMP      employer USCC[:FROM[:UNTIL]] for avoidance (回避), e.g. 91530100...:2019-03-01 (repeat)',
    '  --region CODE       AREA, GB/T 2260 division code of the expert',
    '  --paused            register as paused (not drawn until set active)',
    ...nodeUsageLines,
    '',
    'Prints the pseudonymous expert ref other members will know the expert by.',
  ].join('\n'),
  options: {
    ...nodeOptions,
    file: { type: 'string' },
    'id-card': { type: 'string' },
    name: { type: 'string' },
    phone: { type: 'string' },
    'employer-name': { type: 'string' },
    specialty: { type: 'string', multiple: true },
    employer: { type: 'string', multiple: true },
    region: { type: 'string' },
    paused: { type: 'boolean' },
  },
  async run(args, io) {
    let personal;
    let profile: ExpertProfile;
    const file = optional(args, 'file');
    if (file) {
      const object = JSON.parse(await readFile(file, 'utf8')) as { personal?: unknown; profile?: unknown };
      personal = { idCardNumber: '', name: '', phone: '', birthday: '', employerName: '', ...(object.personal as object) };
      profile = ExpertProfile.fromJSON(object.profile ?? {});
    } else {
      personal = { idCardNumber: required(args, 'id-card'), name: required(args, 'name'), phone: optional(args, 'phone') ?? '', birthday: '', employerName: optional(args, 'employer-name') ?? '' };
      profile = {
        expertRef: '',
        specialtyCodes: many(args, 'specialty'),
        employment: many(args, 'employer').map(employment),
        regionCode: required(args, 'region'),
        status: args.values.paused ? ExpertStatus.EXPERT_STATUS_PAUSED : ExpertStatus.EXPERT_STATUS_ACTIVE,
      };
    }
    return callExperts(args, io, async (api) => {
      const reply = await api.registerExpert(personal, profile);
      if (args.values.json) printJson(io, { expertRef: reply.expertRef, alreadyRegistered: reply.alreadyRegistered, provenance: provenanceJson(reply.provenance) });
      else io.stdout(`${reply.alreadyRegistered ? 'already registered' : 'registered'} expert ${reply.expertRef} at ${describeProvenance(reply.provenance!)}\n`);
      return exitOk;
    });
  },
};

const show: Command = {
  path: ['expert', 'show'],
  summary: "Show an expert's pseudonymous profile, availability and leases",
  usage: ['REF [--personal] [--node HOST:PORT] [--json]', '', '  --personal  also the personal fields (answered by the home node only)', ...nodeUsageLines].join('\n'),
  options: { ...nodeOptions, personal: { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const ref = args.positionals[0]!;
    return callExperts(args, io, async (api) => {
      const reply = await api.getExpert(ref, args.values.personal === true);
      if (!reply.found) {
        if (args.values.json) printJson(io, { expertRef: ref, found: false });
        else io.stdout(`${ref}: not known at this node\n`);
        return exitNegative;
      }
      if (args.values.json) printJson(io, { expertRef: ref, found: true, profile: ExpertProfile.toJSON(reply.profile!), home: provenanceJson(reply.home), availability: reply.availability?.windows.map((w) => ({ fromMs: Number(w.fromMs), untilMs: Number(w.untilMs) })) ?? [], leases: reply.leases.map((l) => ({ host: hex(l.host), hostCity: l.hostCity, sessionId: l.sessionId, fromMs: Number(l.slot!.fromMs), untilMs: Number(l.slot!.untilMs) })), personal: reply.personal ?? null });
      else io.stdout(expertText(ref, reply));
      return exitOk;
    });
  },
};

const availability: Command = {
  path: ['expert', 'availability'],
  summary: "Replace an expert's availability windows (home node only)",
  usage: ['REF --window FROM/UNTIL... [--node HOST:PORT] [--json]', '', '  --window FROM/UNTIL  e.g. 2025-06-01/2025-07-01 (dates at 00:00 +08:00); repeat; none: not available', ...nodeUsageLines].join('\n'),
  options: { ...nodeOptions, window: { type: 'string', multiple: true } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const expertRef = args.positionals[0]!;
    const windows = many(args, 'window').map((w) => period(w, '--window'));
    return callExperts(args, io, async (api) => {
      const reply = await api.setAvailability({ expertRef, windows });
      if (args.values.json) printJson(io, { expertRef, windows: windows.length, provenance: provenanceJson(reply.provenance) });
      else io.stdout(`${expertRef}: ${windows.length} availability window(s) recorded at ${describeProvenance(reply.provenance!)}\n`);
      return exitOk;
    });
  },
};

const status: Command = {
  path: ['expert', 'status'],
  summary: 'Set an expert active or paused (home node only)',
  usage: ['REF active|paused [--node HOST:PORT] [--json]', ...nodeUsageLines].join('\n'),
  options: { ...nodeOptions },
  positionals: { min: 2, max: 2 },
  async run(args, io) {
    const [expertRef, wanted] = args.positionals as [string, string];
    const value = wanted === 'active' ? ExpertStatus.EXPERT_STATUS_ACTIVE : wanted === 'paused' ? ExpertStatus.EXPERT_STATUS_PAUSED : undefined;
    if (value === undefined) throw new UsageError(`the status must be active or paused; got ${JSON.stringify(wanted)}`);
    return callExperts(args, io, async (api) => {
      const current = await api.getExpert(expertRef);
      if (!current.found) throw new ApiError(api.address, 'NOT_FOUND', `no expert ${expertRef} is known at this node`);
      const reply = await api.updateExpert({ ...current.profile!, status: value });
      if (args.values.json) printJson(io, { expertRef, status: wanted, provenance: provenanceJson(reply.provenance) });
      else io.stdout(`${expertRef}: ${wanted} at ${describeProvenance(reply.provenance!)}\n`);
      return exitOk;
    });
  },
};

const audit: Command = {
  path: ['expert', 'audit'],
  summary: "Re-run a session's expert draw from this node's records and compare",
  usage: [
    'SESSION [--host NODE_ID] [--node HOST:PORT] [--json]',
    '',
    '  --host NODE_ID  the host node, when several members used the same session id',
    ...nodeUsageLines,
    '',
    'Exit: 0 the draw matches, 1 mismatch (or this node lacks records to tell: incomplete), 2 bad input.',
  ].join('\n'),
  options: { ...nodeOptions, host: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const sessionId = args.positionals[0]!;
    return callExperts(args, io, async (api) => {
      const reply = await api.auditDraw(sessionId, hostOption(args));
      const verdict = verdictNames[reply.verdict] ?? 'unspecified';
      if (args.values.json) printJson(io, { sessionId, host: hex(reply.host), hostCity: reply.hostCity, verdict, checks: reply.checks });
      else {
        io.stdout(`session ${sessionId} hosted by ${reply.hostCity || hex(reply.host).slice(0, nodeIdPrefixChars)}: ${verdict.toUpperCase()}\n`);
        for (const check of reply.checks) io.stdout(`  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}\n`);
      }
      return reply.verdict === AuditVerdict.AUDIT_VERDICT_MATCH ? exitOk : exitNegative;
    });
  },
};

// ---- evaluation ----

const create: Command = {
  path: ['evaluation', 'create'],
  summary: 'Open a remote evaluation session (远程异地评标) hosted by this node',
  usage: [
    '(--file SESSION.json | --id ID --project CODE --bidder USCC... --tenderer USCC... --need CODE:COUNT... --from TIME --until TIME)',
    '       [--name TEXT] [--agency USCC...] [--quota REGION:MAX...] [--other-cities] [--node HOST:PORT] [--json]',
    '',
    '  --id ID             session id, unique among this node\'s sessions',
    '  --project CODE      project code; --name its name',
    '  --bidder USCC       a bidder / supplier (repeat); --tenderer, --agency likewise',
    '  --need CODE:COUNT   experts needed per specialty, e.g. A08:3 (repeat)',
    '  --from / --until    the evaluation slot; TIME as 2025-06-10T09:00+08:00 (must be in the future)',
    '  --quota REGION:MAX  at most MAX experts from that city, e.g. 520100:2 (repeat)',
    '  --other-cities      no expert from this node\'s own city',
    ...nodeUsageLines,
    '',
    'The node generates the draw seed, keeps it, and records its SM3 commitment with the session.',
  ].join('\n'),
  options: {
    ...nodeOptions,
    file: { type: 'string' },
    id: { type: 'string' },
    project: { type: 'string' },
    name: { type: 'string' },
    bidder: { type: 'string', multiple: true },
    tenderer: { type: 'string', multiple: true },
    agency: { type: 'string', multiple: true },
    need: { type: 'string', multiple: true },
    from: { type: 'string' },
    until: { type: 'string' },
    quota: { type: 'string', multiple: true },
    'other-cities': { type: 'boolean' },
  },
  async run(args, io) {
    const pair = (text: string, option: string): [string, number] => {
      const [code, count] = text.split(':');
      if (!code || !count || !/^\d+$/.test(count)) throw new UsageError(`${option} must be CODE:NUMBER; got ${JSON.stringify(text)}`);
      return [code, Number(count)];
    };
    const file = optional(args, 'file');
    const session: EvaluationSession = file
      ? EvaluationSession.fromJSON(JSON.parse(await readFile(file, 'utf8')))
      : EvaluationSession.fromPartial({
          sessionId: required(args, 'id'),
          projectCode: required(args, 'project'),
          projectName: optional(args, 'name') ?? '',
          bidderUsccs: many(args, 'bidder'),
          tendererUsccs: many(args, 'tenderer'),
          agencyUsccs: many(args, 'agency'),
          requirements: many(args, 'need').map((n) => pair(n, '--need')).map(([specialtyCode, count]) => ({ specialtyCode, count })),
          window: { fromMs: BigInt(parseTime(required(args, 'from'), '--from')), untilMs: BigInt(parseTime(required(args, 'until'), '--until')) },
          cityQuotas: many(args, 'quota').map((q) => pair(q, '--quota')).map(([regionCode, expertsMax]) => ({ regionCode, expertsMax })),
          otherCitiesOnly: args.values['other-cities'] === true,
        });
    return callExperts(args, io, async (api) => {
      const reply = await api.createSession(session);
      if (args.values.json) printJson(io, { sessionId: session.sessionId, seedCommitment: hex(reply.seedCommitment), provenance: provenanceJson(reply.provenance) });
      else io.stdout(`session ${session.sessionId} opened at ${describeProvenance(reply.provenance!)}; seed commitment SM3 ${hex(reply.seedCommitment)}\n`);
      return exitOk;
    });
  },
};

function attemptText(a: DrawAttempt): string {
  const o = a.outcome!;
  const outcome = outcomeNames[o.outcome] ?? '?';
  return `  #${o.requirementIndex} ${o.expertRef} at ${a.homeCity || hex(o.homeNode).slice(0, nodeIdPrefixChars)}: ${outcome}${o.reason ? ` (${o.reason})` : ''}\n`;
}

const seatJson = (s: PanelSeat) => ({ requirementIndex: s.requirementIndex, specialtyCode: s.specialtyCode, expertRef: s.expertRef, homeNode: hex(s.homeNode), homeCity: s.homeCity, leaseSeq: Number(s.leaseSeq) });
const attemptJson = (a: DrawAttempt) => ({ ...attemptOutcomeJson(a), recorded: provenanceJson(a.recorded) });
const attemptOutcomeJson = (a: DrawAttempt) => ({ requirementIndex: a.outcome!.requirementIndex, expertRef: a.outcome!.expertRef, outcome: LeaseOutcome[a.outcome!.outcome], reason: a.outcome!.reason, homeCity: a.homeCity, leaseSeq: Number(a.outcome!.leaseSeq) });

const draw: Command = {
  path: ['evaluation', 'draw'],
  summary: "Draw a session's panel and lease the experts from their home nodes",
  usage: ['SESSION [--node HOST:PORT] [--json]', ...nodeUsageLines, '', 'Exit: 0 panel complete, 1 candidates ran out (seats left empty) or refused, 2 bad input.'].join('\n'),
  options: { ...nodeOptions },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const sessionId = args.positionals[0]!;
    return callExperts(args, io, async (api) => {
      const reply = await api.drawExperts(sessionId);
      if (args.values.json) printJson(io, { sessionId, complete: reply.complete, shortfall: reply.shortfall, draw: provenanceJson(reply.draw), panel: reply.panel.map(seatJson), attempts: reply.attempts.map(attemptJson) });
      else {
        io.stdout(`session ${sessionId}: ${reply.complete ? 'panel complete' : `panel short by ${reply.shortfall.reduce((a, b) => a + b, 0)}`}; draw at ${describeProvenance(reply.draw!)}\n`);
        for (const a of reply.attempts) io.stdout(attemptText(a));
      }
      return reply.complete ? exitOk : exitNegative;
    });
  },
};

const showSession: Command = {
  path: ['evaluation', 'show'],
  summary: 'Show a session, its draw and its panel',
  usage: ['SESSION [--host NODE_ID] [--node HOST:PORT] [--json]', ...nodeUsageLines].join('\n'),
  options: { ...nodeOptions, host: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const sessionId = args.positionals[0]!;
    return callExperts(args, io, async (api) => {
      const reply = await api.getSession(sessionId, hostOption(args));
      if (!reply.found) {
        if (args.values.json) printJson(io, { sessionId, found: false });
        else io.stdout(`${sessionId}: not known at this node\n`);
        return exitNegative;
      }
      if (args.values.json) {
        printJson(io, { sessionId, found: true, session: EvaluationSession.toJSON(reply.session!), created: provenanceJson(reply.created), draw: reply.draw ? EvaluationDraw.toJSON(reply.draw) : null, panel: reply.panel.map(seatJson), attempts: reply.attempts.map(attemptJson), scoreSheets: reply.scoreSheets });
        return exitOk;
      }
      const s = reply.session!;
      io.stdout(`session ${sessionId}: project ${s.projectCode}${s.projectName ? ` (${s.projectName})` : ''}, ${formatTime(Number(s.window!.fromMs))} - ${formatTime(Number(s.window!.untilMs))}, opened at ${describeProvenance(reply.created!)}\n`);
      io.stdout(`  needs: ${s.requirements.map((r) => `${r.specialtyCode} x${r.count}`).join(', ')}${s.otherCitiesOnly ? '; other cities only' : ''}\n`);
      if (reply.draw) {
        const reasons = (e: number) => Exclusion[e]?.replace('EXCLUSION_', '').toLowerCase() ?? String(e);
        reply.draw.orders.forEach((o, i) => io.stdout(`  #${i} drawn order: ${o.expertRefs.join(' ') || '(none)'}; excluded: ${o.excluded.map((e) => `${e.expertRef} (${reasons(e.reason)})`).join(', ') || 'none'}\n`));
        for (const a of reply.attempts) io.stdout(attemptText(a));
      } else io.stdout('  not drawn yet\n');
      io.stdout(`  score sheets: ${reply.scoreSheets}\n`);
      return exitOk;
    });
  },
};

const score: Command = {
  path: ['evaluation', 'score'],
  summary: "Sign an expert's score sheet with its certificate key and submit it at the host",
  usage: [
    'SESSION --expert REF --key KEY.pem --cert CERT.pem --score USCC=POINTS... [--host NODE_ID] [--node HOST:PORT] [--json]',
    '',
    '  --key KEY.pem    the expert\'s SM2 private key (PKCS#8 PEM); it signs here and is never sent',
    '  --cert CERT.pem  the expert\'s SM2 certificate (PEM or DER), sent with the sheet',
    '  --score U=P      points for a bidder, e.g. 91530100...=87.5 (every bidder of the session, once)',
    ...nodeUsageLines,
  ].join('\n'),
  options: { ...nodeOptions, host: { type: 'string' }, expert: { type: 'string' }, key: { type: 'string' }, cert: { type: 'string' }, score: { type: 'string', multiple: true } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const sessionId = args.positionals[0]!;
    const key = readPrivateKeyPem(await readFile(required(args, 'key'), 'utf8'));
    const certificate = parseCertificate(await readFile(required(args, 'cert')));
    const scores = many(args, 'score').map((s) => {
      const [bidderUscc, points] = s.split('=');
      const value = Number(points);
      if (!bidderUscc || points === undefined || !Number.isFinite(value) || value < 0) throw new UsageError(`--score must be USCC=POINTS; got ${JSON.stringify(s)}`);
      return { bidderUscc, scoreHundredths: Math.round(value * 100) };
    });
    return callExperts(args, io, async (api) => {
      const session = await api.getSession(sessionId, hostOption(args));
      if (!session.found) throw new ApiError(api.address, 'NOT_FOUND', `no session ${sessionId} is known at this node`);
      const sheet = { host: Buffer.from(session.created!.author), sessionId, expertRef: required(args, 'expert'), scores, signedAtMs: BigInt(Date.now()) };
      const reply = await api.submitScores(signScoreSheet(sheet, key, certificate.der));
      if (args.values.json) printJson(io, { sessionId, expertRef: sheet.expertRef, provenance: provenanceJson(reply.provenance) });
      else io.stdout(`scores of ${sheet.expertRef} for session ${sessionId} recorded at ${describeProvenance(reply.provenance!)}\n`);
      return exitOk;
    });
  },
};

function analysisText(sessionId: string, reply: AnalyzeScoresResponse): string {
  const lines = [`session ${sessionId}: ${reply.experts.length} score sheets; flag at |deviation| > ${(reply.deviationFlagRatio * 100).toFixed(0)}% or ${reply.rankDisagreementFlagPairs}+ reversed pair(s)`];
  for (const b of reply.bidders) lines.push(`  rank ${b.rank}: ${b.bidderUscc} trimmed mean ${b.trimmedMean.toFixed(2)} (${b.sheets} sheets)`);
  for (const e of reply.experts) {
    lines.push(`  ${e.flagged ? 'FLAG' : 'ok  '} ${e.expertRef}: max |deviation| ${(e.maxAbsDeviation * 100).toFixed(1)}%, ${e.disagreements.length} reversed pair(s); signature ${e.signatureValid ? 'valid' : 'INVALID'}; ${e.certificateBinding}`);
    for (const reason of e.reasons) lines.push(`       ${reason}`);
  }
  return lines.join('\n') + '\n';
}

const analysis: Command = {
  path: ['evaluation', 'analysis'],
  summary: 'Supervision analysis of a session\'s scores: trimmed-mean deviation, rank disagreement',
  usage: [
    'SESSION [--deviation RATIO] [--pairs N] [--host NODE_ID] [--node HOST:PORT] [--json]',
    '',
    '  --deviation RATIO  flag |score - trimmed mean| / trimmed mean above this (default 0.2)',
    '  --pairs N          flag an expert ordering N or more bidder pairs opposite to the others (default 1)',
    ...nodeUsageLines,
    '',
    'Exit: 0 nothing flagged, 1 some expert flagged for review, 2 bad input.',
  ].join('\n'),
  options: { ...nodeOptions, host: { type: 'string' }, deviation: { type: 'string' }, pairs: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const sessionId = args.positionals[0]!;
    const deviation = Number(optional(args, 'deviation') ?? '0');
    const pairs = Number(optional(args, 'pairs') ?? '0');
    if (!Number.isFinite(deviation) || deviation < 0) throw new UsageError('--deviation must be a number, at least 0');
    if (!Number.isInteger(pairs) || pairs < 0) throw new UsageError('--pairs must be a whole number');
    return callExperts(args, io, async (api) => {
      const reply = await api.analyzeScores({ sessionId, host: hostOption(args), deviationFlagRatio: deviation, rankDisagreementFlagPairs: pairs });
      if (args.values.json) printJson(io, { sessionId, ...reply });
      else io.stdout(analysisText(sessionId, reply));
      return reply.experts.some((e) => e.flagged) ? exitNegative : exitOk;
    });
  },
};

export const expertCommands: Command[] = [register, show, availability, status, audit];
export const evaluationCommands: Command[] = [create, draw, showSession, score, analysis];
