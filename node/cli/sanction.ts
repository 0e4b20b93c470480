import { Verdict, type CheckSanctionsResponse } from '../../gen/tongxing/api/v1/api.js';
import { LiftReason, ListType, Restriction, SanctionIssue } from '../../gen/tongxing/records/v1/records.js';
import { exitNegative, exitOk, optional, printJson, required, UsageError, type Command, type Parsed } from './command.js';
import { describeProvenance, provenanceJson, readProtoJson } from './entity.js';
import { alertsListMax } from '../limits.js';
import { callDomain } from './cert.js';
import { writeOutput } from './crypto.js';
import { callNode, formatDuration, formatTime, hex, nodeOptions, nodeUsageLines, parseTime } from './node-client.js';
import { defaultPublicationUntilMs } from '../../federation/records/publication.js';
import { groundsNames as categories, listTypeNames as listTypes, nameOf } from '../../federation/views/recognition.js';

// `tongxing sanction issue|lift|check`: dishonesty lists (失信 / 不良行为 / 重点关注)
// through a node's client API. "Fail once, restricted everywhere": a check
// answers from every member's sanctions, and fails closed on stale data.

const dayMs = 86_400_000;

/** The CLI's names for list types and grounds are the federation's (federation/views/recognition.ts): one table for every command and every reason. */
export { categories, listTypes, nameOf };

const listLabels: Record<number, string> = {
  [ListType.LIST_TYPE_SERIOUS_DISHONESTY]: 'serious dishonesty list (严重失信)',
  [ListType.LIST_TYPE_BAD_BEHAVIOUR]: 'bad-behaviour record (不良行为)',
  [ListType.LIST_TYPE_WATCH]: 'watch list (重点关注)',
};

const restrictions = {
  ban: Restriction.RESTRICTION_BAN,
  'score-deduction': Restriction.RESTRICTION_SCORE_DEDUCTION,
  'alert-only': Restriction.RESTRICTION_ALERT_ONLY,
} as const;

const liftReasons = {
  'credit-repair': LiftReason.LIFT_REASON_CREDIT_REPAIR,
  appeal: LiftReason.LIFT_REASON_APPEAL,
  revocation: LiftReason.LIFT_REASON_REVOCATION,
} as const;

const liftReasonLabels: Record<keyof typeof liftReasons, string> = {
  'credit-repair': 'credit repair (信用修复) completed',
  appeal: 'decision set aside on appeal',
  revocation: 'decision revoked (撤销)',
};

function choice<T extends Record<string, number>>(args: Parsed, option: string, names: T, fallback: keyof T & string): T[keyof T] {
  const value = optional(args, option) ?? fallback;
  if (!(value in names)) throw new UsageError(`--${option} must be one of ${Object.keys(names).join(', ')}; got ${JSON.stringify(value)}`);
  return names[value as keyof T]!;
}


// ---- issue ----

const issue: Command = {
  path: ['sanction', 'issue'],
  summary: 'Issue a sanction (失信/不良行为/重点关注) against an entity from this node',
  usage: [
    '(--file SANCTION.json | --id ID --uscc CODE --grounds TEXT --authority TEXT --document CODE [options])',
    '       [--node HOST:PORT] [--json]',
    '',
    '  --file SANCTION.json  a SanctionIssue in the proto JSON mapping (camelCase or snake_case keys), e.g.',
    '                        {"sanctionId": "KM-2025-001", "subject": {"uscc": "...", "name": "..."},',
    '                         "listType": "LIST_TYPE_SERIOUS_DISHONESTY", "restrictionPeriod": {"fromMs": "...",',
    '                         "untilMs": "..."}, ...}; also the way to sanction an expert (subject.expertRef)',
    '  --id ID               sanction id (BLACKLIST_CODE), unique among this node\'s sanctions',
    '  --uscc CODE           the sanctioned entity',
    '  --name NAME           its name (BODY_NAME; default: the legal name registered in the alliance, filled in by the node)',
    '  --grounds TEXT        what it did (RECORD_REASON)',
    '  --authority TEXT      deciding authority (GOVERNMENT)',
    '  --document CODE       decision document number (DOCUMENT_CODE)',
    '  --list TYPE           serious-dishonesty, bad-behaviour or watch (default serious-dishonesty)',
    '  --category CATEGORY   fraud, corruption, collusion, coercion or other (default other)',
    '  --restriction KIND    ban, score-deduction or alert-only (default ban)',
    '  --from TIME           restriction starts (default now); TIME is 2025-03-01 (00:00 +08:00) or',
    '                        an ISO time with its zone, e.g. 2025-03-01T14:30:00+08:00',
    '  --until TIME          restriction ends, exclusive (default one year after --from)',
    '  --publication-until TIME  publication ends (default: six months after --from, or --until if later)',
    '  --decided TIME        date of the decision (RECORD_DATE; default the earlier of now and --from)',
    '  --scope SECTORS       comma-separated trading sectors, e.g. works,goods (SCOPE; default none given)',
    ...nodeUsageLines,
    '',
    'Exit: 0 issued, 1 refused (this node already issued that id), 2 bad input or the node could not answer.',
  ].join('\n'),
  options: {
    ...nodeOptions,
    file: { type: 'string' },
    id: { type: 'string' },
    uscc: { type: 'string' },
    name: { type: 'string' },
    grounds: { type: 'string' },
    authority: { type: 'string' },
    document: { type: 'string' },
    list: { type: 'string' },
    category: { type: 'string' },
    restriction: { type: 'string' },
    from: { type: 'string' },
    until: { type: 'string' },
    'publication-until': { type: 'string' },
    decided: { type: 'string' },
    scope: { type: 'string' },
  },
  async run(args, io) {
    const file = optional(args, 'file');
    const fields = Object.keys(issue.options).filter((o) => !['node', 'json', 'file'].includes(o));
    if (file && fields.some((o) => args.values[o] !== undefined)) {
      throw new UsageError(`--file replaces the other sanction options (${fields.map((o) => `--${o}`).join(', ')}); give one or the other`);
    }
    let sanction: SanctionIssue;
    if (file) {
      sanction = await readProtoJson(file, SanctionIssue.fromJSON);
    } else {
      const nowMs = Date.now();
      const fromMs = optional(args, 'from') === undefined ? nowMs : parseTime(optional(args, 'from')!, '--from');
      const untilMs = optional(args, 'until') === undefined ? fromMs + 365 * dayMs : parseTime(optional(args, 'until')!, '--until');
      const publicationUntil = args.values['publication-until'];
      const publicationUntilMs = typeof publicationUntil === 'string' ? parseTime(publicationUntil, '--publication-until') : defaultPublicationUntilMs(fromMs, untilMs);
      const decidedAtMs = optional(args, 'decided') === undefined ? Math.min(nowMs, fromMs) : parseTime(optional(args, 'decided')!, '--decided');
      const name = optional(args, 'name');
      sanction = SanctionIssue.fromPartial({
        sanctionId: required(args, 'id'),
        subject: { id: { $case: 'uscc', value: required(args, 'uscc') }, name: name ?? '' },
        listType: choice(args, 'list', listTypes, 'serious-dishonesty'),
        grounds: required(args, 'grounds'),
        groundsCategory: choice(args, 'category', categories, 'other'),
        decidingAuthority: required(args, 'authority'),
        documentCode: required(args, 'document'),
        scope: (optional(args, 'scope') ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''),
        restriction: choice(args, 'restriction', restrictions, 'ban'),
        restrictionPeriod: { fromMs: BigInt(fromMs), untilMs: BigInt(untilMs) },
        publicationPeriod: { fromMs: BigInt(fromMs), untilMs: BigInt(publicationUntilMs) },
        decidedAtMs: BigInt(decidedAtMs),
      });
    }
    return callNode(args, io, async (api) => {
      const subject = sanction.subject;
      const reply = await api.issueSanction(sanction);
      if (args.values.json) {
        printJson(io, { sanctionId: sanction.sanctionId, subjectName: reply.subjectName, provenance: provenanceJson(reply.provenance) });
      } else {
        io.stdout(`issued sanction ${sanction.sanctionId} against ${subject?.id?.value} (${reply.subjectName}) at ${describeProvenance(reply.provenance!)}\n`);
      }
      return exitOk;
    });
  },
};

// ---- lift ----

const lift: Command = {
  path: ['sanction', 'lift'],
  summary: 'Lift a sanction this node issued (信用修复, appeal, revocation)',
  usage: [
    'ID [--reason REASON] [--explanation TEXT] [--node HOST:PORT] [--json]',
    '',
    '  ID                  the sanction id this node issued; only the issuing node lifts its sanction',
    '  --reason REASON     credit-repair, appeal or revocation (default credit-repair)',
    '  --explanation TEXT  why, recorded with the lift (default: a sentence naming the reason)',
    ...nodeUsageLines,
    '',
    "The lift takes effect now, by the node's clock; as-of checks of earlier times still see the sanction.",
    '',
    'Exit: 0 lifted, 1 refused (no such sanction issued here, or already lifted), 2 bad input or the',
    'node could not answer.',
  ].join('\n'),
  options: { ...nodeOptions, reason: { type: 'string' }, explanation: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const sanctionId = args.positionals[0]!;
    const reasonName = (optional(args, 'reason') ?? 'credit-repair') as keyof typeof liftReasons;
    const reason = choice(args, 'reason', liftReasons, 'credit-repair');
    const explanation = optional(args, 'explanation') ?? liftReasonLabels[reasonName];
    return callNode(args, io, async (api) => {
      const reply = await api.liftSanction({ sanctionId, reason, explanation, effectiveAtMs: 0n });
      if (args.values.json) printJson(io, { sanctionId, provenance: provenanceJson(reply.provenance) });
      else io.stdout(`lifted sanction ${sanctionId} (${reasonName}) at ${describeProvenance(reply.provenance!)}\n`);
      return exitOk;
    });
  },
};

// ---- check ----

const verdictNames: Record<number, string> = {
  [Verdict.VERDICT_CLEAR]: 'clear',
  [Verdict.VERDICT_RESTRICTED]: 'restricted',
  [Verdict.VERDICT_UNKNOWN_STALE]: 'unknown-stale',
};

function checkJson(uscc: string, reply: CheckSanctionsResponse): object {
  return {
    uscc,
    verdict: verdictNames[reply.verdict] ?? 'unspecified',
    atMs: Number(reply.atMs),
    freshnessBudgetMs: Number(reply.freshnessBudgetMs),
    sanctions: reply.sanctions.map((s) => ({
      issuer: hex(s.issued!.author),
      issuerCity: s.issued!.authorCity,
      quarantined: s.quarantined,
      recognised: s.recognised,
      recognition: s.recognition,
      issued: provenanceJson(s.issued),
      sanction: SanctionIssue.toJSON(s.sanction!),
    })),
    freshness: reply.freshness.map((f) => ({
      nodeId: hex(f.nodeId),
      city: f.city,
      seq: Number(f.seq),
      ageMs: f.ageMs < 0n ? null : Number(f.ageMs),
      stale: f.stale,
    })),
    staleMembers: reply.freshness.filter((f) => f.stale).map((f) => f.city || hex(f.nodeId)),
  };
}

function checkText(uscc: string, reply: CheckSanctionsResponse): string {
  const at = formatTime(Number(reply.atMs));
  const budget = formatDuration(Number(reply.freshnessBudgetMs));
  const lines: string[] = [];
  const binding = reply.sanctions.filter((s) => s.recognised).length;
  const notBinding = reply.sanctions.length - binding;
  if (reply.verdict === Verdict.VERDICT_CLEAR) {
    lines.push(`${uscc}: CLEAR at ${at}: no active sanction binding here${notBinding > 0 ? ` (${notBinding} not recognised here, listed below)` : ''}, and every member's data is fresh`);
  }
  if (reply.verdict === Verdict.VERDICT_RESTRICTED) {
    lines.push(`${uscc}: RESTRICTED at ${at}: ${binding} active sanction${binding === 1 ? '' : 's'} binding here${notBinding > 0 ? `, ${notBinding} not recognised here` : ''}`);
  }
  for (const s of reply.sanctions) {
    const issue = s.sanction!;
    const period = issue.restrictionPeriod!;
    lines.push(
      `  - ${s.issued!.authorCity || hex(s.issued!.author).slice(0, 12)}: ${listLabels[issue.listType] ?? `list ${issue.listType}`}, ` +
        `${nameOf(restrictions, issue.restriction)} from ${formatTime(Number(period.fromMs))} until ${formatTime(Number(period.untilMs))}` +
        (s.quarantined ? ' (ISSUER EQUIVOCATED: pending governance)' : ''),
      `    id ${issue.sanctionId}; grounds (${nameOf(categories, issue.groundsCategory)}): ${issue.grounds}`,
      `    decided by ${issue.decidingAuthority}, document ${issue.documentCode}` + (issue.scope.length > 0 ? `; scope ${issue.scope.join(', ')}` : ''),
      `    ${s.recognised ? 'binding here' : 'NOT binding here'}: ${s.recognition}`,
    );
  }
  const stale = reply.freshness.filter((f) => f.stale);
  if (reply.verdict === Verdict.VERDICT_UNKNOWN_STALE) {
    const names = stale.map((f) => `${f.city || hex(f.nodeId).slice(0, 12)} (${f.ageMs < 0n ? 'never heard from' : `${formatDuration(Number(f.ageMs))} old`})`);
    lines.push(
      `${uscc}: UNKNOWN at ${at}: no active sanction is recorded here, but the data of ${names.join(', ')} is older than the freshness budget (${budget}).`,
      '  The answer fails closed: do not treat this entity as clear until those members are heard from again.',
    );
  } else if (reply.verdict === Verdict.VERDICT_RESTRICTED && stale.length > 0) {
    lines.push(`  (stale members, which may hold more sanctions: ${stale.map((f) => f.city || hex(f.nodeId).slice(0, 12)).join(', ')})`);
  }
  lines.push(`freshness of each member's data (budget ${budget}):`);
  for (const f of reply.freshness) {
    const age = f.ageMs < 0n ? 'never heard from' : `${formatDuration(Number(f.ageMs))} old`;
    lines.push(`  ${f.city || hex(f.nodeId).slice(0, 12)}: ${age}, log seq ${f.seq}${f.stale ? '  STALE' : ''}`);
  }
  return lines.join('\n') + '\n';
}

const check: Command = {
  path: ['sanction', 'check'],
  summary: 'Is this entity sanctioned at any member? (fails closed when a member is not fresh)',
  usage: [
    '(USCC | --expert REF) [--at TIME] [--evidence FILE] [--node HOST:PORT] [--json]',
    '',
    '  USCC            unified social credit code, exactly as issued',
    '  --expert REF    or an expert (pseudonymous reference)',
    '  --at TIME       answer as of this time (e.g. bid opening), default now; 2025-03-01 (00:00 +08:00)',
    '                  or an ISO time with its zone, e.g. 2025-03-01T09:30:00+08:00',
    '  --evidence FILE also write an evidence bundle signed by the node (the query, the answer and the',
    '                  signed heads it was read from), for the bid file; check it with `tongxing evidence verify`',
    ...nodeUsageLines,
    '',
    'Answers from this node\'s own store, with every member\'s sanctions and the age of each member\'s data.',
    'When nothing is active but some member\'s data is older than the alliance\'s freshness budget, the',
    'answer is "unknown (stale)", never a silent "clear".',
    '',
    'Exit: 0 clear, 1 restricted or unknown (stale), 2 bad input or the node could not answer.',
  ].join('\n'),
  options: { ...nodeOptions, at: { type: 'string' }, expert: { type: 'string' }, evidence: { type: 'string' } },
  positionals: { min: 0, max: 1 },
  async run(args, io) {
    const uscc = args.positionals[0];
    const expertRef = optional(args, 'expert');
    if ((uscc === undefined) === (expertRef === undefined)) throw new UsageError('give a USCC or --expert REF (one of them)');
    const subject = uscc ?? expertRef!;
    const at = optional(args, 'at');
    const atMs = at === undefined ? 0n : BigInt(parseTime(at, '--at'));
    const evidenceFile = optional(args, 'evidence');
    return callNode(args, io, async (api) => {
      const reply = await api.checkSanctions({ uscc, expertRef, atMs, evidence: evidenceFile !== undefined });
      if (evidenceFile !== undefined) writeOutput(evidenceFile, reply.evidence);
      if (args.values.json) printJson(io, { ...checkJson(subject, reply), ...(evidenceFile !== undefined ? { evidenceFile } : {}) });
      else io.stdout(checkText(subject, reply) + (evidenceFile !== undefined ? `evidence bundle (${reply.evidence.length} bytes, signed by this node) written to ${evidenceFile}\n` : ''));
      return reply.verdict === Verdict.VERDICT_CLEAR ? exitOk : exitNegative;
    });
  },
};

// ---- watch-list alerts ----

const alerts: Command = {
  path: ['alerts'],
  summary: 'Watch-list alerts (重点关注): where this node\'s watched entities and experts signed in',
  usage: [
    '[--limit N] [--node HOST:PORT] [--json]',
    '',
    `  --limit N   at most N alerts, newest first (default and at most ${alertsListMax})`,
    ...nodeUsageLines,
    '',
    'A member that sees a login by a subject of one of this node\'s watch-list sanctions records an',
    'alert in its own log; this lists the alerts this node has received.',
  ].join('\n'),
  options: { ...nodeOptions, limit: { type: 'string' }, api: { type: 'string' } },
  async run(args, io) {
    const limitText = optional(args, 'limit');
    const limit = limitText === undefined ? 0 : Number(limitText);
    if (limitText !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > alertsListMax)) {
      throw new UsageError(`--limit must be a whole number from 1 to ${alertsListMax}`);
    }
    return callDomain(args, io, async (api) => {
      const reply = await api.listAlerts(limit);
      if (args.values.json) {
        printJson(io, {
          alerts: reply.alerts.map((a) => ({
            sanctionId: a.alert!.sanctionId,
            subject: a.alert!.subject?.id?.value ?? '',
            subjectName: a.alert!.subject?.name ?? '',
            signedInAt: new Date(Number(a.alert!.signedInAtMs)).toISOString(),
            city: a.recorded!.authorCity,
            certificate: { serialNumber: a.alert!.serialNumber, issuerNameHash: a.alert!.issuerNameHash },
            recorded: provenanceJson(a.recorded),
          })),
          truncated: reply.truncated,
        });
      } else if (reply.alerts.length === 0) {
        io.stdout('no watch-list alerts\n');
      } else {
        const lines = reply.alerts.map((a) => {
          const alert = a.alert!;
          const who = `${alert.subject?.id?.value ?? '?'}${alert.subject?.name ? ` (${alert.subject.name})` : ''}`;
          return `${formatTime(Number(alert.signedInAtMs))}  ${who} signed in at ${a.recorded!.authorCity || hex(a.recorded!.author).slice(0, 12)}  [sanction ${alert.sanctionId}, certificate ${alert.serialNumber}]`;
        });
        if (reply.truncated) lines.push(`(older alerts not shown: use --limit up to ${alertsListMax})`);
        io.stdout(lines.join('\n') + '\n');
      }
      return exitOk;
    });
  },
};

export const sanctionCommands: Command[] = [issue, lift, check, alerts];
