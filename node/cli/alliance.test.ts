import { describe, expect, it } from 'vitest';
import { GroundsCategory, ListType } from '../../gen/tongxing/records/v1/records.js';
import { describeRule, parseRecognitionRule } from './alliance.js';

describe('alliance --recognize rules', () => {
  it('read list type, grounds and minimum days, and say them back', () => {
    const rule = parseRecognitionRule('serious-dishonesty:fraud,corruption:365d');
    expect(rule).toEqual({ listType: ListType.LIST_TYPE_SERIOUS_DISHONESTY, grounds: [GroundsCategory.GROUNDS_CATEGORY_FRAUD, GroundsCategory.GROUNDS_CATEGORY_CORRUPTION], minRestrictionMs: 365n * 86_400_000n });
    expect(describeRule(rule)).toBe('serious-dishonesty, fraud, corruption, restricted at least 365 days');
    expect(describeRule(parseRecognitionRule('watch'))).toBe('watch, any grounds');
  });

  it('name what is wrong', () => {
    expect(() => parseRecognitionRule('nope')).toThrow('--recognize "nope": list type must be one of serious-dishonesty, bad-behaviour, watch');
    expect(() => parseRecognitionRule('watch:bribes')).toThrow(/grounds must be among fraud, corruption, collusion, coercion, other/);
    expect(() => parseRecognitionRule('watch::1y')).toThrow(/the minimum restriction is days, like 365d/);
  });
});
