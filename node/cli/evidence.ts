import { Verdict } from '../../gen/tongxing/api/v1/api.js';
import { TenderVerdict } from '../../gen/tongxing/api/v1/credit.js';
import { formatHundredths } from '../../federation/credit/fixed.js';
import { nodeIdOf } from '../../federation/crypto/sm2.js';
import { verifyEvidence, type EvidenceAlliance, type EvidenceVerdict } from '../../federation/evidence.js';
import { toHex } from '../../federation/log/entry.js';
import { loadGenesis } from '../genesis-file.js';
import { exitNegative, exitOk, optional, printJson, UsageError, type Command } from './command.js';
import { readInput } from './crypto.js';
import { formatTime, nodeIdPrefixChars } from './node-client.js';

// `tongxing evidence verify FILE`: checks an evidence bundle offline (no node
// needed): the answering node's signature, its node id, the answer against the
// heads, and, with the alliance's genesis, membership and every head's signature.

const tenderVerdictNames: Record<number, string> = {
  [TenderVerdict.TENDER_VERDICT_CLEAR]: 'CLEAR',
  [TenderVerdict.TENDER_VERDICT_FLAGGED]: 'FLAGGED',
  [TenderVerdict.TENDER_VERDICT_UNKNOWN_STALE]: 'UNKNOWN (stale)',
};

const verdictNames: Record<number, string> = {
  [Verdict.VERDICT_CLEAR]: 'CLEAR',
  [Verdict.VERDICT_RESTRICTED]: 'RESTRICTED',
  [Verdict.VERDICT_UNKNOWN_STALE]: 'UNKNOWN (stale)',
};

/** The bundle's bytes: binary as the CLI writes it, or base64 as the HTTP/JSON API carries it. */
function bundleBytes(file: string): Buffer {
  const bytes = readInput(file, 'FILE');
  const text = bytes.toString('latin1').trim();
  return /^[A-Za-z0-9+/=_-]+$/.test(text) && text.length % 4 === 0 ? Buffer.from(text, 'base64') : bytes;
}

function allianceOf(path: string): EvidenceAlliance {
  const { body, allianceId } = loadGenesis(path);
  const keys = new Map(body.founders.map((f) => [nodeIdOf(f.publicKey), f]));
  return { allianceId, keyOf: (id) => keys.get(id)?.publicKey, cityOf: (id) => keys.get(id)?.city };
}

function report(verdict: EvidenceVerdict, alliance: EvidenceAlliance | undefined): string {
  const body = verdict.body;
  const lines: string[] = [];
  const node = verdict.nodeId ? `${body?.nodeCity || 'unknown city'} (node ${verdict.nodeId.slice(0, nodeIdPrefixChars)})` : 'an unknown node';
  if (verdict.status === 'verified') lines.push(`VERIFIED: this answer was given by ${node} and computed from the signed logs listed below.`);
  if (verdict.status === 'verified' && verdict.vouched.length > 0) {
    const names = verdict.vouched.map((id) => body?.members.find((m) => toHex(m.nodeId) === id)?.city || id.slice(0, nodeIdPrefixChars));
    lines.push(`  the keys of ${names.join(', ')} come from the answering node's membership (admitted or rotated after the genesis); compare with \`tongxing alliance status\` at another member to check them independently.`);
  }
  else if (verdict.status === 'unverified-heads') lines.push(`SIGNATURE VALID, NOT VERIFIED: signed by ${node}, but without the alliance's genesis (--genesis FILE) nobody can tell whether that node and the heads belong to the alliance.`);
  else lines.push(`INVALID: do not rely on this evidence.`, ...verdict.problems.map((p) => `  - ${p}`));
  const query = body?.query;
  const answer = body?.answer;
  if (query && answer) {
    const subject = query.uscc !== '' ? `entity ${query.uscc}` : `expert ${query.expertRef}`;
    lines.push(`  question: is ${subject} sanctioned at ${formatTime(Number(answer.atMs))}? (answered ${formatTime(Number(body!.answeredAtMs))})`);
    lines.push(`  answer: ${verdictNames[answer.verdict] ?? 'unspecified'}` + (answer.sanctions.length > 0 ? `, ${answer.sanctions.length} active sanction(s):` : ''));
    for (const s of answer.sanctions) lines.push(`    - ${s.issued?.authorCity || '?'}: ${s.sanction?.sanctionId} (${s.sanction?.grounds}), document ${s.sanction?.documentCode}`);
    const heads = body!.heads.map((h) => {
      const author = toHex(h.head!.author);
      return `${alliance?.cityOf?.(author) ?? author.slice(0, nodeIdPrefixChars)} seq ${h.head!.seq}`;
    });
    lines.push(`  computed from ${heads.length} member log head(s)${verdict.status === 'verified' ? ', each signature verified' : ''}: ${heads.join(', ') || 'none'}`);
    const stale = answer.freshness.filter((f) => f.stale).map((f) => f.city || toHex(f.nodeId).slice(0, nodeIdPrefixChars));
    if (stale.length > 0) lines.push(`  members whose data was older than the freshness budget: ${stale.join(', ')}`);
  }
  const tender = body?.tenderAnswer;
  if (tender) {
    lines.push(`  question: tender check (一标一查) of project ${tender.projectCode} at ${formatTime(Number(tender.atMs))}, ${tender.bidders.length} bidder(s) (answered ${formatTime(Number(body!.answeredAtMs))})`);
    lines.push(`  answer: ${tenderVerdictNames[tender.verdict] ?? 'unspecified'}`);
    for (const b of tender.bidders) {
      lines.push(`    - ${b.uscc} ${b.name}: ${b.flags.length > 0 ? b.flags.join('; ') : 'clear'} (credit index ${formatHundredths(b.credit?.indexHundredths ?? 0)}, method v${b.credit?.methodVersion ?? '?'})`);
    }
    lines.push(`  computed from ${body!.heads.length} member log head(s)${verdict.status === 'verified' ? ', each signature verified' : ''}`);
  }
  return lines.join('\n') + '\n';
}

const verify: Command = {
  path: ['evidence', 'verify'],
  summary: 'Verify an evidence bundle of a sanctions check or a tender check offline',
  usage: [
    'FILE [--genesis GENESIS.json] [--json]',
    '',
    '  FILE            the bundle, as `tongxing sanction check --evidence FILE` wrote it (or base64)',
    '  --genesis FILE  the alliance genesis (tongxing-genesis/1): members\' keys and the alliance id;',
    '                  without it only the answering node\'s own signature can be checked',
    '  --alliance FILE the same',
    '  --json          print {status, problems, nodeId, nodeCity, verdict, ...}',
    '',
    'Checks the answering node\'s SM2 signature (node id = SM3 of its key), that the answer reads no',
    'further than the heads, and with the genesis that the node and every head\'s author are members',
    'and every head is validly signed. Members admitted after the genesis are not known to it.',
    '',
    'Exit: 0 verified, 1 invalid or not verifiable without the genesis, 2 unreadable input.',
  ].join('\n'),
  options: { genesis: { type: 'string' }, alliance: { type: 'string' }, json: { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const genesisFile = optional(args, 'genesis');
    const allianceFile = optional(args, 'alliance');
    if (genesisFile !== undefined && allianceFile !== undefined) throw new UsageError('give --genesis or --alliance, not both (they are the same)');
    const alliancePath = genesisFile ?? allianceFile;
    const alliance = alliancePath === undefined ? undefined : allianceOf(alliancePath);
    const verdict = verifyEvidence(bundleBytes(args.positionals[0]!), alliance);
    if (args.values.json) {
      const answer = verdict.body?.answer;
      printJson(io, {
        status: verdict.status,
        problems: verdict.problems,
        vouched: verdict.vouched,
        nodeId: verdict.nodeId ?? null,
        nodeCity: verdict.body?.nodeCity ?? null,
        answeredAtMs: verdict.body ? Number(verdict.body.answeredAtMs) : null,
        query: verdict.body?.query ? { uscc: verdict.body.query.uscc, expertRef: verdict.body.query.expertRef } : null,
        verdict: answer ? (verdictNames[answer.verdict] ?? 'UNSPECIFIED').toLowerCase() : null,
        sanctions: answer?.sanctions.map((s) => ({ sanctionId: s.sanction?.sanctionId, issuerCity: s.issued?.authorCity, seq: Number(s.issued?.seq ?? 0) })) ?? [],
        headsChecked: verdict.headsChecked,
        tender: verdict.body?.tenderAnswer
          ? { projectCode: verdict.body.tenderAnswer.projectCode, verdict: (tenderVerdictNames[verdict.body.tenderAnswer.verdict] ?? 'UNSPECIFIED').toLowerCase(), bidders: verdict.body.tenderAnswer.bidders.map((b) => ({ uscc: b.uscc, flags: b.flags })) }
          : null,
      });
    } else {
      io.stdout(report(verdict, alliance));
    }
    return verdict.status === 'verified' ? exitOk : exitNegative;
  },
};

export const evidenceCommands: Command[] = [verify];
