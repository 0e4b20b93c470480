import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.js';
import { textCharsMax } from '../limits.js';
import {
  assertUscc,
  checkUscc,
  organisationCheckCharacter,
  registrationAuthorities,
  usccAlphabet,
  usccCheckCharacter,
  type UsccInvalid,
  type UsccValid,
} from './uscc.js';

// The standard's worked example and three real codes (also docs/DOMAIN.md, "Unified social credit code").
const validVectors = ['91350100M000100Y43', '91110000600037341L', '91310110666007217T', '9144030071526726XG'];
// An early pilot code that fails the check (docs/DOMAIN.md, "Unified social credit code").
const legacy = '91350211M00013FA1N';
const override = { reason: 'pilot-region code issued before GB 32100 checks', approvedBy: 'ops@kunming' };

/** Positions 1..16 completed with both check characters: a code only the rule under test can reject. */
function complete(first16: string): string {
  const first17 = first16 + organisationCheckCharacter(first16.slice(8));
  return first17 + usccCheckCharacter(first17);
}

function invalid(code: string): UsccInvalid {
  const result = checkUscc(code);
  expect(result.valid, code).toBe(false);
  return result as UsccInvalid;
}

function thrown(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('checkUscc (GB 32100-2015)', () => {
  it.each(validVectors)('accepts the docs/DOMAIN.md vector %s', (code) => {
    const result = checkUscc(code);
    expect(result).toMatchObject({ valid: true, code });
  });

  it('decodes the worked example', () => {
    expect(checkUscc('91350100M000100Y43')).toEqual({
      valid: true,
      code: '91350100M000100Y43',
      authority: { code: '9', name: 'market regulation', nameZh: '市场监管（工商）' },
      category: { code: '1', name: 'enterprise', nameZh: '企业' },
      regionCode: '350100',
      organisationCode: 'M000100Y4',
    });
  });

  it('rejects the legacy pilot code at its check character and says what it should be', () => {
    expect(invalid(legacy)).toMatchObject({ field: 'check', position: 18, expectedCheck: '3', overridable: true });
    expect(invalid(legacy).reason).toBe("check character (position 18) is 'N', expected '3'");
  });

  it.each([17, 19, 0])('rejects a code of %i characters', (length) => {
    const code = '91350100M000100Y43'.padEnd(19, '0').slice(0, length);
    expect(invalid(code)).toMatchObject({ field: 'length', overridable: false });
  });

  it('counts characters, not UTF-16 units', () => {
    expect(invalid('91350100M000100Y4😀').field).toBe('alphabet');
  });

  it('rejects lowercase with a clear reason instead of folding it', () => {
    const result = invalid('91350100m000100y43');
    expect(result).toMatchObject({ field: 'alphabet', position: 9, overridable: false });
    expect(result.reason).toContain('lowercase');
    expect(result.reason).toContain('91350100M000100Y43');
  });

  it.each(['I', 'O', 'S', 'V', 'Z', ' ', '-', 'Ｍ'])('rejects %j, which is outside the alphabet', (char) => {
    const code = '91350100' + char + '000100Y43';
    expect(invalid(code)).toMatchObject({ field: 'alphabet', position: 9, overridable: false });
  });

  it('rejects an unknown registration authority (position 1)', () => {
    const code = complete('B1350100M000100Y');
    expect(invalid(code)).toMatchObject({ field: 'registrationAuthority', position: 1, overridable: false });
  });

  it.each(['94', '99', 'Y2', '2A'])('rejects category %s unknown for its authority (position 2)', (prefix) => {
    const code = complete(prefix + '350100M000100Y');
    expect(invalid(code)).toMatchObject({ field: 'category', position: 2, overridable: false });
  });

  it.each([3, 5, 8])('rejects a letter in the division code at position %i', (position) => {
    const first16 = '91350100M000100Y'.split('');
    first16[position - 1] = 'A';
    expect(invalid(complete(first16.join('')))).toMatchObject({ field: 'regionCode', position, overridable: false });
  });

  it('checks the embedded GB 11714 organisation code (position 17)', () => {
    // Position 17 changed and position 18 recomputed: only the organisation check fails.
    const first17 = '91350100M000100Y' + '5';
    const code = first17 + usccCheckCharacter(first17);
    expect(invalid(code)).toMatchObject({
      field: 'organisationCheck',
      position: 17,
      expectedOrganisationCheck: '4',
      overridable: true,
    });
    expect(invalid(code).expectedCheck).toBeUndefined();
  });

  it('writes organisation check 10 as X and 11 as 0', () => {
    expect(organisationCheckCharacter('71526726')).toBe('X'); // from 9144030071526726XG
    expect(organisationCheckCharacter('00000000')).toBe('0'); // sum 0 -> 11 -> 0
    expect(organisationCheckCharacter('M000100Y')).toBe('4');
  });

  it('values organisation code letters A=10..Z=35, not by their USCC alphabet index', () => {
    // Y is 34 in GB 11714 but 30 in the USCC alphabet; the worked example needs 34.
    expect(organisationCheckCharacter('M000100Y')).toBe('4');
    expect(organisationCheckCharacter('0000000Y')).toBe(String(11 - ((34 * 2) % 11)));
  });

  it('decodes every authority and category in the table', () => {
    for (const [authority, entry] of Object.entries(registrationAuthorities)) {
      for (const [category, [name, nameZh]] of Object.entries(entry.categories)) {
        const result = checkUscc(complete(authority + category + '530100' + '12345678'));
        expect(result.valid, authority + category).toBe(true);
        expect((result as UsccValid).authority).toEqual({ code: authority, name: entry.name, nameZh: entry.nameZh });
        expect((result as UsccValid).category).toEqual({ code: category, name, nameZh });
      }
    }
    expect(registrationAuthorities['5']!.categories['3']).toEqual(['foundation', '基金会']);
    expect(registrationAuthorities['1']!.categories['1']![1]).toBe('机关');
  });
});

describe('assertUscc', () => {
  it('returns "checked" for a valid code', () => {
    expect(assertUscc('91110000600037341L', 'profile.uscc')).toBe('checked');
  });

  it('throws ValidationError(field, reason) for an invalid code', () => {
    const error = thrown(() => assertUscc(legacy, 'profile.uscc'));
    expect(error.field).toBe('profile.uscc');
    expect(error.reason).toBe("check character (position 18) is 'N', expected '3'");
    expect(error.name).toBe('ValidationError');
  });

  it('accepts the legacy pilot code with an explicit override', () => {
    expect(assertUscc(legacy, 'profile.uscc', override)).toBe('overridden');
  });

  it('accepts a wrong organisation check character with an override', () => {
    expect(assertUscc('91350100M000100Y5' + 'X', 'u', override)).toBe('overridden');
  });

  it.each([
    ['length', '91350211M00013FA1'],
    ['alphabet', '91350211M00013FAIN'],
    ['lowercase', '91350211m00013FA1N'],
    ['authority', 'B1350211M00013FA1N'],
    ['category', '98350211M00013FA1N'],
    ['region', '9135021AM00013FA1N'],
  ])('refuses an override when the %s is wrong', (_rule, code) => {
    const error = thrown(() => assertUscc(code, 'profile.uscc', override));
    expect(error.field).toBe('profile.uscc');
    expect(error.reason).toContain('an override accepts only wrong check characters');
  });

  it.each([
    ['reason', { reason: '', approvedBy: 'ops' }],
    ['reason', { reason: '  ', approvedBy: 'ops' }],
    ['approvedBy', { reason: 'pilot', approvedBy: '' }],
    ['approvedBy', { reason: 'pilot', approvedBy: '\t' }],
  ])('refuses an override without a %s', (name, bad) => {
    const error = thrown(() => assertUscc(legacy, 'profile.uscc', bad));
    expect(error.field).toBe(`profile.usccOverride.${name}`);
    expect(error.reason).toBe('missing');
  });

  it('bounds the override texts', () => {
    const long = 'x'.repeat(textCharsMax + 1);
    expect(thrown(() => assertUscc(legacy, 'u', { reason: long, approvedBy: 'ops' })).field).toBe('uOverride.reason');
    expect(thrown(() => assertUscc(legacy, 'u', { reason: 'r', approvedBy: long })).field).toBe('uOverride.approvedBy');
  });

  it('refuses an override on a code that passes, so no override is recorded for nothing', () => {
    const error = thrown(() => assertUscc('91350100M000100Y43', 'profile.uscc', override));
    expect(error.field).toBe('profile.usccOverride');
    expect(error.reason).toContain('not needed');
  });
});

/** mulberry32: small, seedable, good enough to pick test inputs. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

describe('property: generated codes verify, every single substitution is caught', () => {
  const seed = Number(process.env.TONGXING_SEED ?? randomInt(2 ** 31));
  console.info(`uscc property test seed=${seed} (replay with TONGXING_SEED=${seed})`);
  const next = prng(seed);
  const pick = (s: string): string => s[next(s.length)]!;
  const prefixes = Object.entries(registrationAuthorities).flatMap(([a, e]) => Object.keys(e.categories).map((c) => a + c));
  const digits = '0123456789';
  const outside = 'IOSVZabcxyz -*';

  it(`holds for 400 random codes (seed ${seed})`, () => {
    for (let n = 0; n < 400; n++) {
      let first16 = prefixes[next(prefixes.length)]!;
      for (let i = 0; i < 6; i++) first16 += pick(digits);
      for (let i = 0; i < 8; i++) first16 += pick(usccAlphabet);
      const code = complete(first16);
      expect(checkUscc(code).valid, `seed ${seed}: ${code}`).toBe(true);

      for (let position = 0; position < 18; position++) {
        const replacements = [...usccAlphabet, pick(outside)].filter((c) => c !== code[position]);
        for (const char of replacements) {
          const mutated = code.slice(0, position) + char + code.slice(position + 1);
          const result = checkUscc(mutated);
          // Plain ifs: ~200k checks, expect() on each would dominate the run time.
          if (result.valid) expect.fail(`seed ${seed}: ${code} -> ${mutated} passed`);
          if (position === 17 && usccAlphabet.includes(char) && result.expectedCheck !== code[17]) {
            expect.fail(`seed ${seed}: ${mutated} expected check ${result.expectedCheck}, want ${code[17]}`);
          }
        }
      }
    }
  });
});
