// Unified social credit code (统一社会信用代码), GB 32100-2015: the LEGAL_CODE that
// identifies every market entity. Layout, 1-based:
//   [1] registration authority  [2] organisation category  [3-8] administrative
//   division (GB/T 2260)  [9-17] subject identifier, the old GB 11714 organisation
//   code whose own check character is [17]  [18] check character (ISO 7064 MOD 31-3).
//
// Codes are checked exactly as written. Lowercase is rejected, not upper-cased:
// records are signed facts compared byte for byte on every node, so the one
// spelling the issuer gave must be the canonical one (the reason shows the fix).

import { assert, ValidationError } from '../errors.js';
import { textCharsMax } from '../limits.js';

export const usccLength = 18;

/** Value of a character is its index; no I, O, S, V, Z (confusable with 1, 0, 5, U, 2). */
export const usccAlphabet = '0123456789ABCDEFGHJKLMNPQRTUWXY';

/** 3^(i-1) mod 31 for positions 1..17. */
const usccWeights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/** GB 11714 weights for the 8 body characters of the organisation code. */
const organisationWeights = [3, 7, 9, 10, 5, 8, 4, 2];

export interface UsccLabel {
  code: string;
  name: string;
  nameZh: string;
}

interface AuthorityEntry {
  name: string;
  nameZh: string;
  /** category character -> [English, Chinese] */
  categories: Readonly<Record<string, readonly [string, string]>>;
}

const other = ['other', '其他'] as const;

/**
 * GB 32100-2015 table of registration authorities (position 1) and the organisation
 * categories each may issue (position 2), with the later additions A (military) and
 * N (agriculture) (docs/DOMAIN.md, "Unified social credit code"). The team's domain
 * reference confirmed 1, 5 and 9; the rest follow the standard's table.
 */
export const registrationAuthorities: Readonly<Record<string, AuthorityEntry>> = {
  '1': {
    name: 'establishment administration',
    nameZh: '机构编制',
    categories: {
      '1': ['government organ', '机关'],
      '2': ['public institution', '事业单位'],
      '3': ['mass organisation under the central establishment office', '中央编办直接管理机构编制的群众团体'],
      '9': other,
    },
  },
  '2': {
    name: 'foreign affairs',
    nameZh: '外交',
    categories: { '1': ['resident foreign news agency', '外国常驻新闻机构'], '9': other },
  },
  '3': {
    name: 'judicial administration',
    nameZh: '司法行政',
    categories: {
      '1': ['law firm', '律师执业机构'],
      '2': ['notary office', '公证处'],
      '3': ['grassroots legal service office', '基层法律服务所'],
      '4': ['judicial expertise institution', '司法鉴定机构'],
      '5': ['arbitration commission', '仲裁委员会'],
      '9': other,
    },
  },
  '4': {
    name: 'culture',
    nameZh: '文化',
    categories: { '1': ['foreign cultural centre in China', '外国在华文化中心'], '9': other },
  },
  '5': {
    name: 'civil affairs',
    nameZh: '民政',
    categories: {
      '1': ['social organisation', '社会团体'],
      '2': ['private non-enterprise unit', '民办非企业单位'],
      '3': ['foundation', '基金会'],
      '9': other,
    },
  },
  '6': {
    name: 'tourism',
    nameZh: '旅游',
    categories: {
      '1': ['resident office of a foreign tourism authority', '外国旅游部门常驻代表机构'],
      '2': ['resident office of a Hong Kong, Macao or Taiwan tourism authority', '港澳台地区旅游部门常驻内地（大陆）代表机构'],
      '9': other,
    },
  },
  '7': {
    name: 'religious affairs',
    nameZh: '宗教',
    categories: {
      '1': ['place of religious activity', '宗教活动场所'],
      '2': ['religious school', '宗教院校'],
      '9': other,
    },
  },
  '8': {
    name: 'trade unions',
    nameZh: '工会',
    categories: { '1': ['grassroots trade union', '基层工会'], '9': other },
  },
  '9': {
    name: 'market regulation',
    nameZh: '市场监管（工商）',
    categories: {
      '1': ['enterprise', '企业'],
      '2': ['individual business', '个体工商户'],
      '3': ["farmers' cooperative", '农民专业合作社'],
    },
  },
  A: {
    name: 'Central Military Commission establishment office',
    nameZh: '中央军委改革和编制办公室',
    categories: { '1': ['military public institution', '军队事业单位'], '9': other },
  },
  N: {
    name: 'agriculture',
    nameZh: '农业',
    categories: {
      '1': ['group-level collective economic organisation', '组级集体经济组织'],
      '2': ['village-level collective economic organisation', '村级集体经济组织'],
      '3': ['township-level collective economic organisation', '乡镇级集体经济组织'],
      '9': other,
    },
  },
  Y: {
    name: 'other',
    nameZh: '其他',
    categories: { '1': other },
  },
};

/** The part of a code that is wrong, in reading order. */
export type UsccPart =
  | 'length'
  | 'alphabet'
  | 'registrationAuthority'
  | 'category'
  | 'regionCode'
  | 'organisationCheck'
  | 'check';

export interface UsccValid {
  valid: true;
  code: string;
  authority: UsccLabel;
  category: UsccLabel;
  /** Positions 3-8: GB/T 2260 division of the registering authority. */
  regionCode: string;
  /** Positions 9-17: the GB 11714 organisation code, its check character last. */
  organisationCode: string;
}

export interface UsccInvalid {
  valid: false;
  reason: string;
  /** The first wrong part, in reading order. */
  field: UsccPart;
  /** 1-based position of the offending character, where one character is to blame. */
  position?: number;
  /** What position 18 should be, when position 18 is what is wrong. */
  expectedCheck?: string;
  /** What position 17 should be, when the organisation code check is what is wrong. */
  expectedOrganisationCheck?: string;
  /** Only check characters are wrong (structure holds): an explicit override may accept it. */
  overridable: boolean;
}

export type UsccResult = UsccValid | UsccInvalid;

/** An operator's recorded acceptance of a legacy code (proto UsccOverride). */
export interface UsccOverrideInput {
  reason: string;
  approvedBy: string;
}

/** Character code -> value; -1 outside the alphabet. A table, because every ingested record checks its USCCs. */
const values = new Int8Array(128).fill(-1);
for (let i = 0; i < usccAlphabet.length; i++) values[usccAlphabet.charCodeAt(i)] = i;

function value(char: string): number {
  const v = char.length === 1 ? (values[char.charCodeAt(0)] ?? -1) : -1;
  if (v < 0) assert(false, `not a USCC character: ${JSON.stringify(char)}`);
  return v;
}

/** Position 18 for the given positions 1..17 (all from the USCC alphabet). */
export function usccCheckCharacter(first17: string): string {
  assert(first17.length === 17, 'usccCheckCharacter needs 17 characters');
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += value(first17[i]!) * usccWeights[i]!;
  return usccAlphabet[(31 - (sum % 31)) % 31]!;
}

/** GB 11714 check character for an 8-character organisation code body: 0-9 or X. */
export function organisationCheckCharacter(body: string): string {
  assert(/^[0-9A-Z]{8}$/.test(body), 'organisationCheckCharacter needs 8 characters 0-9 A-Z');
  let sum = 0;
  for (let i = 0; i < 8; i++) {
    const c = body.charCodeAt(i);
    const v = c <= 57 ? c - 48 : c - 55; // '0'..'9' -> 0..9, 'A'..'Z' -> 10..35
    sum += v * organisationWeights[i]!;
  }
  const check = 11 - (sum % 11);
  return check === 10 ? 'X' : check === 11 ? '0' : String(check);
}

function invalid(field: UsccPart, reason: string, extra: Partial<UsccInvalid> = {}): UsccInvalid {
  return { valid: false, reason, field, overridable: false, ...extra };
}

/** Checks a code as written (no trimming, no case folding). */
export function checkUscc(code: string): UsccResult {
  const chars = Array.from(code);
  if (chars.length !== usccLength) {
    return invalid('length', `has ${chars.length} characters, a USCC has ${usccLength}`);
  }
  const lower = chars.findIndex((c) => c >= 'a' && c <= 'z');
  if (lower >= 0) {
    return invalid(
      'alphabet',
      `lowercase letter at position ${lower + 1}; USCCs are recorded in upper case exactly as issued (${code.toUpperCase()})`,
      { position: lower + 1 },
    );
  }
  const stray = chars.findIndex((c) => !usccAlphabet.includes(c));
  if (stray >= 0) {
    return invalid(
      'alphabet',
      `character ${JSON.stringify(chars[stray])} at position ${stray + 1} is not in the GB 32100 alphabet ${usccAlphabet}`,
      { position: stray + 1 },
    );
  }
  const authority = registrationAuthorities[code[0]!];
  if (!authority) {
    return invalid('registrationAuthority', `unknown registration authority '${code[0]}' at position 1`, {
      position: 1,
    });
  }
  const category = authority.categories[code[1]!];
  if (!category) {
    const known = Object.keys(authority.categories).join(', ');
    return invalid(
      'category',
      `unknown category '${code[1]}' at position 2 for registration authority '${code[0]}' (${authority.name}; known: ${known})`,
      { position: 2 },
    );
  }
  const regionCode = code.slice(2, 8);
  const nonDigit = Array.from(regionCode).findIndex((c) => c < '0' || c > '9');
  if (nonDigit >= 0) {
    const position = nonDigit + 3;
    return invalid('regionCode', `position ${position} must be a digit: positions 3-8 are a GB/T 2260 division code`, {
      position,
    });
  }

  // Structure holds; from here only check characters can be wrong.
  const expectedOrganisationCheck = organisationCheckCharacter(code.slice(8, 16));
  const expectedCheck = usccCheckCharacter(code.slice(0, 17));
  if (code[16] !== expectedOrganisationCheck) {
    return invalid(
      'organisationCheck',
      `organisation code check character (position 17) is '${code[16]}', expected '${expectedOrganisationCheck}'`,
      { position: 17, expectedOrganisationCheck, overridable: true },
    );
  }
  if (code[17] !== expectedCheck) {
    return invalid('check', `check character (position 18) is '${code[17]}', expected '${expectedCheck}'`, {
      position: 18,
      expectedCheck,
      overridable: true,
    });
  }
  return {
    valid: true,
    code,
    authority: { code: code[0]!, name: authority.name, nameZh: authority.nameZh },
    category: { code: code[1]!, name: category[0], nameZh: category[1] },
    regionCode,
    organisationCode: code.slice(8, 17),
  };
}

/** How a code passed assertUscc: by its check characters, or by a recorded override. */
export type UsccAcceptance = 'checked' | 'overridden';

/**
 * Throws ValidationError(field, reason) unless the code is valid. With an override, a
 * code whose structure holds but whose check characters fail (legacy pilot codes) is
 * accepted; the override must name a reason and an approver. An override on a code
 * that passes is rejected too, so every recorded override means something.
 * Override errors name `${field}Override` (the proto's uscc -> uscc_override).
 */
export function assertUscc(code: string, field: string, override?: UsccOverrideInput): UsccAcceptance {
  const overrideField = `${field}Override`;
  const result = checkUscc(code);
  if (result.valid) {
    if (override) {
      throw new ValidationError(overrideField, 'not needed: the code passes the GB 32100 check');
    }
    return 'checked';
  }
  if (!override) throw new ValidationError(field, result.reason);
  if (!result.overridable) {
    throw new ValidationError(field, `${result.reason} (an override accepts only wrong check characters)`);
  }
  for (const [name, text] of [
    ['reason', override.reason],
    ['approvedBy', override.approvedBy],
  ] as const) {
    if (text.trim() === '') throw new ValidationError(`${overrideField}.${name}`, 'missing');
    if (text.length > textCharsMax) {
      throw new ValidationError(`${overrideField}.${name}`, `${text.length} characters, at most ${textCharsMax}`);
    }
  }
  return 'overridden';
}
