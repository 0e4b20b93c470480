import { describe, expect, it } from 'vitest';
import { GroundsCategory, ListType } from '../../gen/tongxing/records/v1/records.js';
import { describeRecognitionRule } from '../../federation/views/recognition.js';
import { parseRecognitionRule, resolveProposal } from './alliance.js';

describe('alliance --recognize rules', () => {
  it('read list type, grounds and minimum days, and say them back', () => {
    const rule = parseRecognitionRule('serious-dishonesty:fraud,corruption:365d');
    expect(rule).toEqual({ listType: ListType.LIST_TYPE_SERIOUS_DISHONESTY, grounds: [GroundsCategory.GROUNDS_CATEGORY_FRAUD, GroundsCategory.GROUNDS_CATEGORY_CORRUPTION], minRestrictionMs: 365n * 86_400_000n });
    expect(describeRecognitionRule(rule)).toBe('serious-dishonesty, grounds fraud or corruption, restricted at least 365 days');
    expect(describeRecognitionRule(parseRecognitionRule('watch'))).toBe('watch, any grounds');
  });

  it('name what is wrong', () => {
    expect(() => parseRecognitionRule('nope')).toThrow('--recognize "nope": list type must be one of serious-dishonesty, bad-behaviour, watch');
    expect(() => parseRecognitionRule('watch:bribes')).toThrow(/grounds must be among fraud, corruption, collusion, coercion, other/);
    expect(() => parseRecognitionRule('watch::1y')).toThrow(/the minimum restriction is days, like 365d/);
  });
});

describe('alliance approve PROPOSAL_HASH', () => {
  const proposal = (hex: string) => ({ hash: Buffer.from(hex.padEnd(64, '0'), 'hex') });
  const known = [proposal('3f0c1a2b'), proposal('3f0c1a2c'), proposal('9e8d7c6b')];

  it('takes the full hash or any unique prefix of at least 8 hex digits, in either case', () => {
    expect(resolveProposal(known, '9e8d7c6b')).toBe('9e8d7c6b'.padEnd(64, '0'));
    expect(resolveProposal(known, '3F0C1A2B00')).toBe('3f0c1a2b'.padEnd(64, '0'));
    expect(resolveProposal(known, '3f0c1a2b'.padEnd(64, '0'))).toBe('3f0c1a2b'.padEnd(64, '0'));
  });

  it('passes on a full hash the node does not know, so the node says why', () => {
    expect(resolveProposal(known, 'ab'.repeat(32))).toBe('ab'.repeat(32));
  });

  it('refuses a prefix that is ambiguous, unknown, too short or not hex, saying which', () => {
    expect(() => resolveProposal(known, '3f0c1a2')).toThrow(/at least 8 of the hex digits/);
    expect(() => resolveProposal(known, '3f0c1a2b'.slice(0, 7) + 'z')).toThrow(/at least 8 of the hex digits/);
    expect(() => resolveProposal([...known, proposal('3f0c1a2bff')], '3f0c1a2b')).toThrow('PROPOSAL_HASH 3f0c1a2b is ambiguous: it starts 3f0c1a2b00000000, 3f0c1a2bff000000; give more digits');
    expect(() => resolveProposal(known, '3f0c1a2d')).toThrow(/no proposal known at this node starts with it/);
  });
});
