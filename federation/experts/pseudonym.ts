import { sm3 } from '../crypto/sm3.js';
import { assert } from '../errors.js';

// Pseudonymous expert references. Peers see `e-` and 24 hex digits; only the
// home node can link a ref to a person. The ref is SM3 over the home node's id,
// the ID card number and a secret salt of the home node: the same person
// registered twice at one node gets the same ref (no duplicate experts), the
// same person at two nodes gets two refs (each home node answers for its own
// registration), and without the salt nobody can test a guessed ID number
// against a ref (resident ID numbers are few enough to enumerate).

/** Bytes of the per-node secret salt. */
export const expertRefSaltBytes = 32;

/** 96 bits: collisions stay improbable (~1e-14) across a million experts per node. */
const refHexChars = 24;

export const derivedExpertRefPattern = /^e-[0-9a-f]{24}$/;

const residentIdWeights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const residentIdChecks = '10X98765432';

/** The check character (GB 11643-1999, ISO 7064 MOD 11-2) of the first 17 digits of a resident ID number. */
export function residentIdCheckCharacter(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * residentIdWeights[i]!;
  return residentIdChecks[sum % 11]!;
}

/**
 * Why `idCard` is not an 18-character resident identity number (GB 11643-1999:
 * 6-digit division, 8-digit birth date, 3-digit sequence, check character
 * 0-9 or X), or undefined when it is one. Lowercase x is refused: callers
 * normalise with toUpperCase() where they accept input.
 */
export function residentIdProblem(idCard: string): string | undefined {
  if (!/^\d{17}[\dX]$/.test(idCard)) return 'must be 18 characters: 17 digits then a digit or X (GB 11643)';
  const year = Number(idCard.slice(6, 10));
  const month = Number(idCard.slice(10, 12));
  const day = Number(idCard.slice(12, 14));
  const date = new Date(Date.UTC(year, month - 1, day));
  if (year < 1900 || date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return `positions 7-14 must be a birth date, got ${idCard.slice(6, 14)}`;
  }
  const expected = residentIdCheckCharacter(idCard.slice(0, 17));
  if (idCard[17] !== expected) return `check character (position 18) is '${idCard[17]}', expected '${expected}'`;
  return undefined;
}

/** The birth date an ID number states, YYYY-MM-DD. */
export function birthdayOf(idCard: string): string {
  return `${idCard.slice(6, 10)}-${idCard.slice(10, 12)}-${idCard.slice(12, 14)}`;
}

/** The ref of the person with `idCard` at home node `homeNodeId` (hex), under that node's `salt`. */
export function deriveExpertRef(homeNodeId: string, idCard: string, salt: Uint8Array): string {
  assert(salt.length === expertRefSaltBytes, `expert ref salt must be ${expertRefSaltBytes} bytes, got ${salt.length}`);
  assert(residentIdProblem(idCard) === undefined, 'deriveExpertRef needs a valid resident ID number');
  const input = Buffer.concat([Buffer.from(`tongxing-expert-ref\0${homeNodeId}\0${idCard}\0`, 'utf8'), salt]);
  return `e-${sm3(input).toString('hex').slice(0, refHexChars)}`;
}
