import { describe, expect, it } from 'vitest';
import { validateExpertProfile } from '../records/validate.js';
import { expertProfile } from '../testing/records.js';
import { birthdayOf, derivedExpertRefPattern, deriveExpertRef, residentIdProblem } from './pseudonym.js';

// GB 11643-1999's own worked example.
const idCard = '11010519491231002X';
const nodeA = 'a'.repeat(64);
const nodeB = 'b'.repeat(64);
const salt = Buffer.alloc(32, 7);

describe('resident ID numbers (GB 11643)', () => {
  it('accepts the standard example and reads the birthday', () => {
    expect(residentIdProblem(idCard)).toBeUndefined();
    expect(birthdayOf(idCard)).toBe('1949-12-31');
  });

  it('refuses a wrong check character, an impossible date, lowercase x and wrong lengths', () => {
    expect(residentIdProblem('110105194912310021')).toBe("check character (position 18) is '1', expected 'X'");
    expect(residentIdProblem('11010519490231002X')).toMatch(/birth date, got 19490231/);
    expect(residentIdProblem('11010519491231002x')).toMatch(/17 digits then a digit or X/);
    expect(residentIdProblem('110105491231002')).toMatch(/18 characters/);
  });
});

describe('pseudonymous expert refs', () => {
  it('are stable for one person at one node, and differ across nodes and salts', () => {
    const ref = deriveExpertRef(nodeA, idCard, salt);
    expect(ref).toMatch(derivedExpertRefPattern);
    expect(deriveExpertRef(nodeA, idCard, salt)).toBe(ref);
    expect(deriveExpertRef(nodeB, idCard, salt)).not.toBe(ref);
    expect(deriveExpertRef(nodeA, idCard, Buffer.alloc(32, 8))).not.toBe(ref);
  });

  it('contain nothing of the ID number and pass the ref rules of the records', () => {
    const ref = deriveExpertRef(nodeA, idCard, salt);
    expect(ref).not.toContain('1949');
    expect(() => validateExpertProfile(expertProfile(ref), 'profile')).not.toThrow();
  });

  it('refuse to derive from an invalid ID number or a short salt (bugs in the caller)', () => {
    expect(() => deriveExpertRef(nodeA, '110105194912310021', salt)).toThrow(/valid resident ID/);
    expect(() => deriveExpertRef(nodeA, idCard, Buffer.alloc(16))).toThrow(/32 bytes/);
  });
});
