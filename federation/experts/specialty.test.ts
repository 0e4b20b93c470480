import { describe, expect, it } from 'vitest';
import { validateExpertProfile } from '../records/validate.js';
import { expertProfile } from '../testing/records.js';
import { servesRequirement, specialtyCodeProblem, specialtyName } from './specialty.js';

describe('specialty codes (classification 2018-316)', () => {
  it('accepts known second levels and deeper codes under them', () => {
    for (const code of ['A08', 'A0801', 'A080101', 'B01', 'B0903', 'C12', 'C120201']) expect(specialtyCodeProblem(code)).toBeUndefined();
    expect(specialtyName('A080101')).toBe('施工');
  });

  it('refuses unknown categories, unknown second levels and bad formats as "unknown specialty code"', () => {
    expect(specialtyCodeProblem('D01')).toMatch(/^unknown specialty code "D01": the category letter/);
    expect(specialtyCodeProblem('A10')).toMatch(/^unknown specialty code "A10": no category A10 .* \(known: A01-A09\)/);
    expect(specialtyCodeProblem('C13')).toMatch(/known: C01-C12/);
    expect(specialtyCodeProblem('A0')).toMatch(/must be A, B or C then 2, 4 or 6 digits/);
    expect(specialtyCodeProblem('A08011')).toMatch(/must be A, B or C/);
    expect(specialtyCodeProblem('A08010101')).toMatch(/must be A, B or C/);
    expect(specialtyCodeProblem('a08')).toMatch(/category letter/);
  });

  it('is checked by record validation, naming the field', () => {
    expect(() => validateExpertProfile(expertProfile('km.e-1', { specialties: ['A0801', 'B99'] }), 'profile')).toThrow(
      'profile.specialtyCodes[1]: unknown specialty code "B99"',
    );
  });

  it('a narrower code serves a broader requirement, not the other way round', () => {
    expect(servesRequirement('A080101', 'A08')).toBe(true);
    expect(servesRequirement('A08', 'A08')).toBe(true);
    expect(servesRequirement('A08', 'A0801')).toBe(false);
    expect(servesRequirement('A0901', 'A08')).toBe(false);
  });
});
