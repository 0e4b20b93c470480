import { CreditIndicatorKind, LiftReason, Record as RecordMessage } from '../../gen/tongxing/records/v1/records.js';
import { TenderVerdict, type CreditIndex, type TenderBidder } from '../../gen/tongxing/api/v1/credit.js';
import { formatHundredths, formatPoints } from '../../federation/credit/fixed.js';
import { withCredit, type CreditClient } from '../api/credit-client.js';
import { certificatesIn, outcomeNames } from './cert.js';
import { exitNegative, exitOk, many, optional, printJson, required, UsageError, type Command, type Io, type Parsed } from './command.js';
import { writeOutput } from './crypto.js';
import { describeProvenance, provenanceJson, readProtoJson } from './entity.js';
import { answered, formatTime, hex, nodeConnection, nodeOptions, nodeUsageLines, parseTime } from './node-client.js';

// `tongxing credit record|lift|show|explain|experts|bonus` and `tongxing
// tender check` (一标一查) through a node's CreditService. Index values are
// shown as the fixed-point hundredths the node computed, never re-rounded.

function callCredit(args: Parsed, io: Io, use: (api: CreditClient) => Promise<number>): Promise<number> {
  return answered(args, io, () => {
    const { address, options } = nodeConnection(args);
    return withCredit(address, use, options);
  });
}

const indicatorNames: Readonly<Record<number, string>> = {
  [CreditIndicatorKind.CREDIT_INDICATOR_KIND_PERFORMANCE]: 'performance evaluation (履约评价)',
  [CreditIndicatorKind.CREDIT_INDICATOR_KIND_MISCONDUCT]: 'venue misconduct (场内不规范行为)',
  [CreditIndicatorKind.CREDIT_INDICATOR_KIND_MUTUAL]: 'mutual evaluation (互评)',
  [CreditIndicatorKind.CREDIT_INDICATOR_KIND_THIRD_PARTY]: 'third-party rating (第三方评价)',
  [CreditIndicatorKind.CREDIT_INDICATOR_KIND_HONOUR]: 'honours (红名单/表彰)',
  [CreditIndicatorKind.CREDIT_INDICATOR_KIND_SANCTION]: 'sanctions (失信/不良行为)',
};
const indicatorKey = (kind: number): string => CreditIndicatorKind[kind]?.replace('CREDIT_INDICATOR_KIND_', '').toLowerCase() ?? String(kind);

/** The subject of show/explain: a USCC positional or --expert REF. */
function subjectOf(args: Parsed): { uscc?: string; expertRef?: string } {
  const expertRef = optional(args, 'expert');
  const uscc = args.positionals[0];
  if ((uscc === undefined) === (expertRef === undefined)) throw new UsageError('give a USCC or --expert REF (exactly one)');
  return uscc !== undefined ? { uscc } : { expertRef };
}

export function indexJson(index: CreditIndex | undefined): object | null {
  if (!index) return null;
  return {
    subject: index.subject,
    day: index.day,
    cutoffMs: Number(index.cutoffMs),
    methodVersion: index.methodVersion,
    base: formatHundredths(index.baseHundredths),
    index: formatHundredths(index.indexHundredths),
    indexHundredths: index.indexHundredths,
    totals: index.totals.map((t) => ({ indicator: indicatorKey(t.indicator), sum: formatHundredths(t.sumHundredths), capped: formatHundredths(t.cappedHundredths), weighted: formatHundredths(t.weightedHundredths) })),
    contributions: index.contributions.map((c) => ({
      indicator: indicatorKey(c.indicator),
      recordId: c.recordId,
      recorded: provenanceJson(c.recorded),
      points: formatHundredths(c.pointsHundredths),
      fullPoints: formatHundredths(c.fullPointsHundredths),
      why: c.why,
    })),
  };
}

function indexText(index: CreditIndex, explain: boolean): string {
  const lines = [
    `${index.subject}: credit index ${formatHundredths(index.indexHundredths)} on ${index.day} (records recorded before ${formatTime(Number(index.cutoffMs))} 00:00 +08:00; credit method v${index.methodVersion}, base ${formatHundredths(index.baseHundredths)})`,
  ];
  for (const t of index.totals) {
    const capped = t.cappedHundredths !== t.sumHundredths ? `, capped at ${formatPoints(t.cappedHundredths)}` : '';
    lines.push(`  ${indicatorNames[t.indicator] ?? indicatorKey(t.indicator)}: ${formatPoints(t.sumHundredths)}${capped}, counts ${formatPoints(t.weightedHundredths)}`);
    if (!explain) continue;
    for (const c of index.contributions.filter((k) => k.indicator === t.indicator)) {
      lines.push(`    ${formatPoints(c.pointsHundredths)}  ${c.recordId} from ${describeProvenance(c.recorded!)}: ${c.why}`);
    }
  }
  if (index.totals.length === 0) lines.push('  no record counts on this day: the index is the base');
  else if (!explain) lines.push(`  (${index.contributions.length} contributing records: \`tongxing credit explain\` lists each with its points and why)`);
  return lines.join('\n') + '\n';
}

const dayLines = ['  --day D           the day (YYYY-MM-DD, China Standard Time; default today): records recorded before its 00:00 count'];

function indexCommand(name: 'show' | 'explain'): Command {
  const explain = name === 'explain';
  return {
    path: ['credit', name],
    summary: explain ? 'A credit index with every contributing record, its points and why' : "A subject's credit index (信用指数) on a day",
    usage: [
      '(USCC | --expert REF) [--day D] [--node HOST:PORT] [--json]',
      '',
      ...dayLines,
      ...nodeUsageLines,
      '',
      'Computed at this node from the replicated credit records and sanctions by the alliance\'s credit',
      'method in force that day; the same records and day give the same number at every member.',
      '',
      'Exit: 0 answered, 2 bad input or the node could not answer.',
    ].join('\n'),
    options: { ...nodeOptions, expert: { type: 'string' }, day: { type: 'string' } },
    positionals: { min: 0, max: 1 },
    async run(args, io) {
      const subject = subjectOf(args);
      return callCredit(args, io, async (api) => {
        const reply = await api.getCreditIndex(subject, optional(args, 'day'));
        if (args.values.json) printJson(io, indexJson(reply.index));
        else io.stdout(indexText(reply.index!, explain));
        return exitOk;
      });
    },
  };
}

const recordCommand: Command = {
  path: ['credit', 'record'],
  summary: 'Write a credit record (履约评价, 场内不规范行为, 互评, 第三方评价, 红名单) from this node',
  usage: [
    '--file RECORD.json [--node HOST:PORT] [--json]',
    '',
    '  --file RECORD.json  one Record in the proto JSON mapping with one of performanceEvaluation,',
    '                      venueMisconduct, mutualEvaluation, thirdPartyRating or honourEntry, e.g.',
    '                      {"venueMisconduct": {"header": {"recordId": "KM-CR-1", "subject": {"uscc": "...",',
    '                       "name": "..."}, "subjectRole": "CREDIT_ROLE_BIDDER", "recordPeriod": {...},',
    '                       "decidingAuthority": "..."}, "severity": "MISCONDUCT_SEVERITY_GENERAL", "behaviour": "..."}}',
    ...nodeUsageLines,
    '',
    'Exit: 0 recorded, 1 refused (this node already used the record id), 2 bad input or no answer.',
  ].join('\n'),
  options: { ...nodeOptions, file: { type: 'string' } },
  async run(args, io) {
    const record = await readProtoJson(required(args, 'file'), RecordMessage.fromJSON);
    return callCredit(args, io, async (api) => {
      const reply = await api.recordCredit(record);
      if (args.values.json) printJson(io, { kind: record.kind?.$case, provenance: provenanceJson(reply.provenance) });
      else io.stdout(`recorded ${record.kind?.$case} at ${describeProvenance(reply.provenance!)}\n`);
      return exitOk;
    });
  },
};

const liftReasons: Readonly<Record<string, LiftReason>> = {
  'credit-repair': LiftReason.LIFT_REASON_CREDIT_REPAIR,
  appeal: LiftReason.LIFT_REASON_APPEAL,
  revocation: LiftReason.LIFT_REASON_REVOCATION,
};

const liftCommand: Command = {
  path: ['credit', 'lift'],
  summary: 'Lift a credit record this node wrote (信用修复, appeal, revocation)',
  usage: [
    'RECORD_ID [--reason REASON] [--explanation TEXT] [--effective TIME] [--node HOST:PORT] [--json]',
    '',
    '  --reason REASON     credit-repair, appeal or revocation (default credit-repair)',
    '  --explanation TEXT  why (default: the reason)',
    '  --effective TIME    from when it stops counting (default now); an index of a day whose 00:00',
    '                      +08:00 is at or after it no longer counts the record',
    ...nodeUsageLines,
    '',
    'Exit: 0 lifted, 1 refused (not recorded here, or already lifted), 2 bad input or no answer.',
  ].join('\n'),
  options: { ...nodeOptions, reason: { type: 'string' }, explanation: { type: 'string' }, effective: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const reasonName = optional(args, 'reason') ?? 'credit-repair';
    const reason = liftReasons[reasonName];
    if (reason === undefined) throw new UsageError(`--reason must be one of ${Object.keys(liftReasons).join(', ')}; got ${JSON.stringify(reasonName)}`);
    const effective = optional(args, 'effective');
    const effectiveAtMs = effective === undefined ? 0n : BigInt(parseTime(effective, '--effective'));
    const recordId = args.positionals[0]!;
    return callCredit(args, io, async (api) => {
      const reply = await api.liftCredit({ recordId, reason, explanation: optional(args, 'explanation') ?? reasonName, effectiveAtMs });
      if (args.values.json) printJson(io, { recordId, provenance: provenanceJson(reply.provenance) });
      else io.stdout(`lifted credit record ${recordId} (${reasonName}) at ${describeProvenance(reply.provenance!)}\n`);
      return exitOk;
    });
  },
};

const expertsCommand: Command = {
  path: ['credit', 'experts'],
  summary: "Experts' credit indexes on a day, and who is paused from draws (暂停抽取)",
  usage: ['[--day D] [--below] [--node HOST:PORT] [--json]', '', ...dayLines, '  --below           only experts under the threshold', ...nodeUsageLines].join('\n'),
  options: { ...nodeOptions, day: { type: 'string' }, below: { type: 'boolean' } },
  async run(args, io) {
    return callCredit(args, io, async (api) => {
      const reply = await api.listExpertCredit(optional(args, 'day'), args.values.below === true);
      if (args.values.json) {
        printJson(io, {
          day: reply.day,
          methodVersion: reply.methodVersion,
          threshold: formatHundredths(reply.thresholdHundredths),
          experts: reply.experts.map((e) => ({ expertRef: e.expertRef, index: formatHundredths(e.indexHundredths), belowThreshold: e.belowThreshold, contributions: e.contributions })),
          truncated: reply.truncated,
        });
        return exitOk;
      }
      const lines = [`experts on ${reply.day} (credit method v${reply.methodVersion}; under ${formatHundredths(reply.thresholdHundredths)} paused from draws):`];
      for (const e of reply.experts) lines.push(`  ${e.expertRef}: ${formatHundredths(e.indexHundredths)}${e.belowThreshold ? '  PAUSED (under the threshold)' : ''}`);
      if (reply.experts.length === 0) lines.push('  none');
      if (reply.truncated) lines.push('  (more experts than one answer lists)');
      io.stdout(lines.join('\n') + '\n');
      return exitOk;
    });
  },
};

const bonusCommand: Command = {
  path: ['credit', 'bonus'],
  summary: 'The evaluation bonus (诚信指数加减分) an entity gets from its credit index',
  usage: ['USCC [--day D] [--node HOST:PORT] [--json]', '', ...dayLines, ...nodeUsageLines].join('\n'),
  options: { ...nodeOptions, day: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    return callCredit(args, io, async (api) => {
      const reply = await api.getEvaluationBonus(args.positionals[0]!, optional(args, 'day'));
      const index = reply.index!;
      if (args.values.json) {
        printJson(io, { bonus: formatHundredths(reply.bonusPointsHundredths), bonusHundredths: reply.bonusPointsHundredths, bandApplied: reply.bandApplied, bandMin: formatHundredths(reply.bandMinIndexHundredths), index: indexJson(index) });
      } else {
        const band = reply.bandApplied ? `band from ${formatHundredths(reply.bandMinIndexHundredths)}` : 'no band applies';
        io.stdout(`${index.subject}: ${formatPoints(reply.bonusPointsHundredths)} points in evaluation on ${index.day} (index ${formatHundredths(index.indexHundredths)}, ${band}, credit method v${index.methodVersion})\n`);
      }
      return exitOk;
    });
  },
};

const tenderVerdicts: Readonly<Record<number, string>> = {
  [TenderVerdict.TENDER_VERDICT_CLEAR]: 'clear',
  [TenderVerdict.TENDER_VERDICT_FLAGGED]: 'flagged',
  [TenderVerdict.TENDER_VERDICT_UNKNOWN_STALE]: 'unknown-stale',
};

/** --bidder USCC or USCC=CERT.pem (the certificate it bid with). */
function bidderOf(text: string): TenderBidder {
  const [uscc, certificate] = text.split('=', 2) as [string, string | undefined];
  if (certificate === undefined) return { uscc, certificateDer: Buffer.alloc(0) };
  const [leaf] = certificatesIn(certificate, `--bidder ${uscc}=`);
  if (!leaf) throw new UsageError(`--bidder ${text}: no certificate in ${certificate}`);
  return { uscc, certificateDer: Buffer.from(leaf.der) };
}

const tenderCheck: Command = {
  path: ['tender', 'check'],
  summary: '一标一查: check every bidder of a tender at once (sanctions, credit, certificate), one evidence bundle',
  usage: [
    '--project CODE --bidder USCC[=CERT.pem] [--bidder ...] [--at TIME] [--evidence FILE] [--node HOST:PORT] [--json]',
    '',
    '  --project CODE   the tender (项目/标段编号)',
    '  --bidder USCC    a bidder; USCC=CERT.pem also checks the certificate it bid with (repeat per bidder)',
    '  --at TIME        bid opening (default now); the credit index is that day\'s',
    '  --evidence FILE  write the evidence bundle the node signed (check it with `tongxing evidence verify`)',
    ...nodeUsageLines,
    '',
    'A bidder is flagged when a sanction binds here, its credit index gives a deduction, or its',
    'certificate is not valid for it. Exit: 0 every bidder clear, 1 flagged or some member not fresh,',
    '2 bad input or the node could not answer.',
  ].join('\n'),
  options: { ...nodeOptions, project: { type: 'string' }, bidder: { type: 'string', multiple: true }, at: { type: 'string' }, evidence: { type: 'string' } },
  async run(args, io) {
    const projectCode = required(args, 'project');
    const bidders = many(args, 'bidder').map(bidderOf);
    if (bidders.length === 0) throw new UsageError('--bidder is required (one per bidder)');
    const at = optional(args, 'at');
    const atMs = at === undefined ? 0n : BigInt(parseTime(at, '--at'));
    const evidenceFile = optional(args, 'evidence');
    return callCredit(args, io, async (api) => {
      const reply = await api.checkTender({ projectCode, bidders, atMs });
      const answer = reply.answer!;
      if (evidenceFile !== undefined) writeOutput(evidenceFile, reply.evidence);
      const verdict = tenderVerdicts[answer.verdict] ?? 'unspecified';
      if (args.values.json) {
        printJson(io, {
          projectCode: answer.projectCode,
          verdict,
          atMs: Number(answer.atMs),
          day: answer.day,
          evidence: evidenceFile ?? null,
          bidders: answer.bidders.map((b) => ({
            uscc: b.uscc,
            name: b.name,
            flags: b.flags,
            sanctions: b.sanctions.map((s) => ({ sanctionId: s.sanction?.sanctionId, issuerCity: s.issued?.authorCity, recognised: s.recognised })),
            index: formatHundredths(b.credit!.indexHundredths),
            methodVersion: b.credit!.methodVersion,
            bonus: formatHundredths(b.bonusPointsHundredths),
            certificate: b.certificate!.presented ? (outcomeNames[b.certificate!.outcome] ?? 'unspecified') : null,
          })),
          staleMembers: answer.freshness.filter((f) => f.stale).map((f) => f.city || hex(f.nodeId)),
        });
      } else {
        const lines = [`tender ${answer.projectCode} at ${formatTime(Number(answer.atMs))}: ${verdict.toUpperCase()} (${answer.bidders.length} bidders)`];
        for (const b of answer.bidders) {
          const certificate = b.certificate!.presented ? `certificate ${outcomeNames[b.certificate!.outcome] ?? '?'}` : 'no certificate given';
          lines.push(`  ${b.uscc} ${b.name}: ${b.flags.length > 0 ? 'FLAGGED' : 'clear'}; index ${formatHundredths(b.credit!.indexHundredths)} (${formatPoints(b.bonusPointsHundredths)} points); ${certificate}`);
          for (const f of b.flags) lines.push(`    - ${f}`);
        }
        const stale = answer.freshness.filter((f) => f.stale).map((f) => f.city || hex(f.nodeId).slice(0, 12));
        if (stale.length > 0) lines.push(`  members whose data is not fresh: ${stale.join(', ')}`);
        if (evidenceFile !== undefined) lines.push(`evidence bundle written to ${evidenceFile} (tongxing evidence verify ${evidenceFile} --genesis GENESIS.json)`);
        io.stdout(lines.join('\n') + '\n');
      }
      return answer.verdict === TenderVerdict.TENDER_VERDICT_CLEAR ? exitOk : exitNegative;
    });
  },
};

export const creditCommands: Command[] = [recordCommand, liftCommand, indexCommand('show'), indexCommand('explain'), expertsCommand, bonusCommand, tenderCheck];
