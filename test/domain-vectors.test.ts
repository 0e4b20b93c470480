import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  EvaluationSession,
  ExpertProfile,
  GroundsCategory,
  ListType,
  RevocationReason,
  SanctionIssue,
  type RecognitionPolicy,
} from '../gen/tongxing/records/v1/records.js';
import { revocationReasonOf } from '../federation/certificates.js';
import { crlReason } from '../federation/crypto/crl.js';
import { oidEcPublicKey, oidSm2 } from '../federation/crypto/pem.js';
import { computeE, computeZ, keyPairFromPrivateKey, nodeIdOf, sign, signatureToDer, verify } from '../federation/crypto/sm2.js';
import { sm3Hex } from '../federation/crypto/sm3.js';
import { oidSm2WithSm3 } from '../federation/crypto/x509.js';
import { ValidationError } from '../federation/errors.js';
import { analyzeScores, defaultDeviationFlagRatio, defaultRankDisagreementFlagPairs } from '../federation/experts/analysis.js';
import { avoidanceConflicts } from '../federation/experts/avoidance.js';
import { cityOf } from '../federation/experts/city.js';
import { deriveExpertRef, residentIdCheckCharacter, residentIdProblem } from '../federation/experts/pseudonym.js';
import { DrawStream, seedCommitment, seededShuffle } from '../federation/experts/shuffle.js';
import { servesRequirement, specialtyCodeProblem } from '../federation/experts/specialty.js';
import { readTime } from '../federation/records/dates.js';
import { defaultPublicationUntilMs } from '../federation/records/publication.js';
import { checkUscc, organisationCheckCharacter, type UsccInvalid } from '../federation/records/uscc.js';
import { requireExpertRef } from '../federation/records/validate.js';
import { recognise } from '../federation/views/recognition.js';
import { isActive } from '../federation/views/sanction.js';
import { westernCities } from '../node/local-alliance.js';

// docs/DOMAIN.md's vector blocks, checked against the code: the page says what
// the code does, and this test fails when either changes alone. Every block in
// the page must have a checker here, and every checker a block.

const doc = readFileSync(new URL('../docs/DOMAIN.md', import.meta.url), 'utf8');

/** Each `<!-- vectors: NAME -->` block as rows of columns (two or more spaces apart; `#` comments and blank lines dropped). */
function vectorBlocks(text: string): Map<string, string[][]> {
  const blocks = new Map<string, string[][]>();
  for (const match of text.matchAll(/<!-- vectors: ([a-z0-9-]+) -->\n```text\n([\s\S]*?)```/g)) {
    const [, name, body] = match;
    expect(blocks.has(name!), `two blocks named ${name}`).toBe(false);
    const rows = body!
      .split('\n')
      .map((line) => line.replace(/(^|\s)#.*$/, '').trim())
      .filter((line) => line !== '')
      .map((line) => line.split(/\s{2,}/));
    blocks.set(name!, rows);
  }
  return blocks;
}

const blocks = vectorBlocks(doc);

/** The instant a documented time names (the strict reader imports use). */
function instant(text: string): number {
  const read = readTime(text, ['date', 'local', 'zoned']);
  if (!('ms' in read)) throw new Error(`docs/DOMAIN.md: ${read.problem}`);
  return read.ms;
}

const yes = (text: string): boolean => {
  expect(['yes', 'no'], `"${text}" must be yes or no`).toContain(text);
  return text === 'yes';
};

const listType = (word: string): ListType => ListType[`LIST_TYPE_${word.toUpperCase().replace(/-/g, '_')}` as keyof typeof ListType] as ListType;
const category = (word: string): GroundsCategory => GroundsCategory[`GROUNDS_CATEGORY_${word.toUpperCase()}` as keyof typeof GroundsCategory] as GroundsCategory;

/** A key-value block as a map (first column the key, the rest the value). */
const fields = (rows: string[][]): Map<string, string> => new Map(rows.map(([key, ...rest]) => [key!, rest.join('  ')]));

const checkers: Record<string, (rows: string[][]) => void> = {
  'uscc-valid': (rows) => {
    expect(rows.length).toBeGreaterThan(0);
    for (const [code] of rows) expect(checkUscc(code!), code).toMatchObject({ valid: true, code });
  },

  'uscc-invalid': (rows) => {
    for (const [code, part, position, expected, override] of rows) {
      const result = checkUscc(code!);
      expect(result.valid, code).toBe(false);
      const invalid = result as UsccInvalid;
      expect(invalid.field, code).toBe(part);
      expect(invalid.position ?? '-', code).toBe(position === '-' ? '-' : Number(position));
      expect(invalid.expectedCheck ?? invalid.expectedOrganisationCheck ?? '-', code).toBe(expected);
      expect(invalid.overridable, code).toBe(yes(override!));
    }
  },

  'organisation-code': (rows) => {
    for (const [body, check] of rows) expect(organisationCheckCharacter(body!), body).toBe(check);
  },

  'resident-id': (rows) => {
    for (const [first17, check] of rows) {
      expect(residentIdCheckCharacter(first17!)).toBe(check);
      expect(residentIdProblem(first17! + check!)).toBeUndefined();
    }
  },

  'expert-ref': (rows) => {
    const v = fields(rows);
    expect(deriveExpertRef(v.get('home')!, v.get('id')!, Buffer.from(v.get('salt')!, 'hex'))).toBe(v.get('ref'));
  },

  'expert-ref-format': (rows) => {
    for (const [ref, outcome] of rows) {
      const check = () => requireExpertRef(ref!, 'expertRef');
      if (outcome === 'accepted') expect(check, ref).not.toThrow();
      else expect(check, ref).toThrow(ValidationError);
    }
  },

  sm3: (rows) => {
    for (const [text, repeat, digest] of rows) expect(sm3Hex(Buffer.from(text!.repeat(Number(repeat))))).toBe(digest);
  },

  sm2: (rows) => {
    const v = fields(rows);
    const hex = (name: string) => Buffer.from(v.get(name)!, 'hex');
    const message = Buffer.from(v.get('message')!);
    const id = v.get('id')!;
    const pair = keyPairFromPrivateKey(hex('d'));
    expect(Buffer.from(pair.publicKey).toString('hex')).toBe(`04${v.get('xA')}${v.get('yA')}`.toLowerCase());
    expect(computeZ(pair.publicKey, id).toString('hex')).toBe(v.get('Z')!.toLowerCase());
    expect(computeE(pair.publicKey, message, id).toString('hex')).toBe(v.get('e')!.toLowerCase());
    // sign() draws k = (64 bytes mod (n - 1)) + 1: hand it k - 1.
    const kMinusOne = (BigInt(`0x${v.get('k')}`) - 1n).toString(16).padStart(128, '0');
    const signature = sign(pair.privateKey, message, pair.publicKey, id, { bytes: () => Buffer.from(kMinusOne, 'hex') });
    expect(signature.toString('hex')).toBe(v.get('der'));
    const raw = Buffer.concat([hex('r'), hex('s')]);
    expect(signatureToDer(raw).toString('hex')).toBe(v.get('der'));
    expect(verify(pair.publicKey, message, raw, id)).toBe(true);
    expect(verify(pair.publicKey, message, hex('der'), id)).toBe(true);
    expect(verify(pair.publicKey, Buffer.from('message digesT'), raw, id)).toBe(false);
    expect(nodeIdOf(pair.publicKey)).toBe(v.get('node-id'));
  },

  oids: (rows) => {
    expect(Object.fromEntries(rows)).toEqual({ 'ec-public-key': oidEcPublicKey, 'sm2-curve': oidSm2, 'sm2-with-sm3': oidSm2WithSm3 });
  },

  'crl-reasons': (rows) => {
    const codes = Object.entries(crlReason).map(([name, code]) => [name, String(code)]);
    expect(rows.filter(([name]) => name !== '-').map(([name, code]) => [name, code]), 'every RFC 5280 reason the code knows').toEqual(codes);
    for (const [, code, recorded] of rows) {
      expect(RevocationReason[revocationReasonOf(code === '-' ? undefined : Number(code))], `reason ${code}`).toBe(recorded);
    }
  },

  'city-of': (rows) => {
    for (const [region, city] of rows) expect(cityOf(region!), region).toBe(city);
  },

  'western-cities': (rows) => {
    expect(rows).toEqual(westernCities.map(([city, code]) => [city, code]));
  },

  dates: (rows) => {
    for (const [text, expected] of rows) {
      const read = readTime(text!, ['date', 'local', 'zoned']);
      if (expected === 'refused') expect(read, text).toHaveProperty('problem');
      else expect('ms' in read && new Date(read.ms).toISOString(), text).toBe(expected);
    }
  },

  publication: (rows) => {
    for (const [from, restrictionUntil, publicationUntil] of rows) {
      expect(defaultPublicationUntilMs(instant(from!), instant(restrictionUntil!)), `${from} / ${restrictionUntil}`).toBe(instant(publicationUntil!));
    }
  },

  'sanction-active': (rows) => {
    for (const [from, until, liftedAt, askedAt, active] of rows) {
      const issue = SanctionIssue.fromPartial({ restrictionPeriod: { fromMs: BigInt(instant(from!)), untilMs: BigInt(instant(until!)) } });
      const provenance = { author: 'a'.repeat(64), seq: 1, hlc: '1' } as never;
      const lift = liftedAt === '-' ? undefined : { lift: { sanctionId: 'x', reason: 1, explanation: 'repaired', effectiveAtMs: BigInt(instant(liftedAt!)) }, lifted: provenance };
      expect(isActive({ issue, issued: provenance, lift }, instant(askedAt!)), `${from}..${until} lifted ${liftedAt} at ${askedAt}`).toBe(yes(active!));
    }
  },

  recognition: (rows) => {
    const policy: RecognitionPolicy = {
      rules: rows
        .filter(([kind]) => kind === 'rule')
        .map(([, list, grounds, days]) => ({ listType: listType(list!), grounds: grounds!.split(',').map(category), minRestrictionMs: BigInt(Number(days) * 86_400_000) })),
    };
    expect(policy.rules.length).toBeGreaterThan(0);
    const issuer = { author: 'b'.repeat(64), seq: 1, hlc: '1' } as never;
    const sanctions = rows.filter(([kind]) => kind === 'sanction');
    expect(sanctions.length).toBeGreaterThan(0);
    for (const [, list, grounds, days, recognised] of sanctions) {
      const fromMs = instant('2025-03-01');
      const issue = SanctionIssue.fromPartial({
        listType: listType(list!),
        groundsCategory: category(grounds!),
        restrictionPeriod: { fromMs: BigInt(fromMs), untilMs: BigInt(fromMs + Number(days) * 86_400_000) },
      });
      expect(recognise({ issue, issued: issuer }, 'c'.repeat(64), policy, undefined).recognised, `${list} ${grounds} ${days} days`).toBe(yes(recognised!));
    }
  },

  specialty: (rows) => {
    for (const [code, outcome] of rows) expect(specialtyCodeProblem(code!) === undefined ? 'accepted' : 'refused', code).toBe(outcome);
  },

  'specialty-serves': (rows) => {
    for (const [expert, requirement, serves] of rows) expect(servesRequirement(expert!, requirement!), `${expert} for ${requirement}`).toBe(yes(serves!));
  },

  avoidance: (rows) => {
    const party = { bidder: '91350100M000100Y43', tenderer: '91110000600037341L', agency: '91310110666007217T', other: '9144030071526726XG' };
    const session = EvaluationSession.fromPartial({
      bidderUsccs: [party.bidder],
      tendererUsccs: [party.tenderer],
      agencyUsccs: [party.agency],
      window: { fromMs: BigInt(instant('2025-06-01')), untilMs: BigInt(instant('2025-06-03')) },
    });
    for (const [employer, from, until, conflict] of rows) {
      const profile = ExpertProfile.fromPartial({
        employment: [{ employerUscc: party[employer as keyof typeof party], period: { fromMs: BigInt(instant(from!)), untilMs: until === 'current' ? 0n : BigInt(instant(until!)) } }],
      });
      expect(avoidanceConflicts(profile, session).length > 0, `${employer} ${from}..${until}`).toBe(yes(conflict!));
    }
  },

  draw: (rows) => {
    const seed = Buffer.from(rows.find(([key]) => key === 'seed')![1]!, 'hex');
    expect(seedCommitment(seed).toString('hex')).toBe(rows.find(([key]) => key === 'commitment')![1]);
    let checked = 0;
    for (const [key, first, second] of rows) {
      const [what, stream] = key!.split(' ');
      if (what === 'words') {
        const words = first!.split(' ');
        const random = new DrawStream(seed, Number(stream));
        expect(words.map(() => random.nextWord().toString(16).padStart(8, '0'))).toEqual(words);
        checked++;
      } else if (what === 'shuffle') {
        expect(seededShuffle(first!.split(' '), seed, Number(stream)), key).toEqual(second!.split(' '));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1);
  },

  'score-analysis': (rows) => {
    const v = new Map(rows.map(([key, ...rest]) => [key!, rest]));
    const bidders = v.get('bidders')!;
    const sheets = rows
      .filter(([key]) => !['bidders', 'trimmed-mean', 'flagged'].includes(key!))
      .map(([expertRef, ...scores]) => ({ expertRef: expertRef!, scores: new Map(bidders.map((b, i) => [b, Number(scores[i])])) }));
    const analysis = analyzeScores(bidders, sheets, { deviationFlagRatio: defaultDeviationFlagRatio, rankDisagreementFlagPairs: defaultRankDisagreementFlagPairs });
    expect(analysis.bidders.map((b) => b.trimmedMean.toFixed(2))).toEqual(v.get('trimmed-mean'));
    expect(analysis.experts.filter((e) => e.flagged).map((e) => e.expertRef)).toEqual(v.get('flagged'));
  },
};

describe('docs/DOMAIN.md vectors', () => {
  it('has a block for every checker and a checker for every block', () => {
    expect([...blocks.keys()].sort()).toEqual(Object.keys(checkers).sort());
  });

  for (const [name, check] of Object.entries(checkers)) {
    it(`${name} holds in the code`, () => {
      const rows = blocks.get(name);
      expect(rows, `docs/DOMAIN.md has no <!-- vectors: ${name} --> block`).toBeDefined();
      check(rows!);
    });
  }
});

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string): string => heading.toLowerCase().replace(/[^\p{L}\p{N} -]/gu, '').replace(/ /g, '-');

describe('citations of docs/DOMAIN.md', () => {
  const headings = [...doc.matchAll(/^#{2,3} (.+)$/gm)].map((m) => m[1]!);
  const anchors = new Set(headings.map(anchorOf));
  const root = new URL('..', import.meta.url).pathname;
  const files = ['README.md', ...['docs', 'federation', 'node', 'simulations', 'bench', 'scripts', 'test'].flatMap((dir) =>
    (readdirSync(join(root, dir), { recursive: true }) as string[]).filter((f) => /\.(ts|md)$/.test(f)).map((f) => join(dir, f)),
  )].filter((f) => !f.includes('node_modules') && !f.startsWith('test/gen') && f !== 'test/domain-vectors.test.ts');

  it('name sections that exist, by heading or by anchor', () => {
    let cited = 0;
    for (const file of files) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const m of text.matchAll(/docs\/DOMAIN\.md,?\s+"([^"]+)"/g)) {
        cited++;
        expect(headings.some((h) => h.startsWith(m[1]!)), `${file} cites docs/DOMAIN.md "${m[1]}", which is no section`).toBe(true);
      }
      const self = file === 'docs/DOMAIN.md';
      for (const m of text.matchAll(self ? /\]\(#([^)]+)\)/g : /DOMAIN\.md#([^)\s]+)/g)) {
        cited++;
        expect(anchors.has(m[1]!), `${file} links to DOMAIN.md#${m[1]}, which is no heading`).toBe(true);
      }
      // A bare "DOMAIN.md" outside docs/ names no file in this repository.
      if (!file.startsWith('docs/') && file !== 'README.md') {
        for (const m of text.matchAll(/(.{0,5})DOMAIN\.md/g)) expect(m[1]!.endsWith('docs/'), `${file}: cite docs/DOMAIN.md, not ${m[0]}`).toBe(true);
      }
    }
    expect(cited).toBeGreaterThan(10);
  });
});
