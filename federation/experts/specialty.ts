// MAJOR_CODE: the national expert specialty classification, 《公共资源交易评标专家
// 专业分类标准》(发改法规〔2018〕316号). A code is a category letter (A works,
// B goods, C services) then one to three 2-digit levels: A08, A0801, A080101,
// so at most 7 characters.
//
// Source and limits of this table: the top two levels as published in the
// classification, transcribed from a public implementation of it (a provincial
// expert-draw system's category tree, checked entry by entry for B and C; the
// A05-A07 and A09 names from a bid-section code table that cites the same
// classification). Only the first two levels are checked: third and fourth
// levels (A0801, A080101) are checked for format, not against the standard's
// ~1,500 entries, so a mistyped fourth level passes. When the classification
// is revised, extend this table; a code under an unlisted second level is
// refused as "unknown specialty code" rather than silently accepted.

export const specialtyCategories: Readonly<Record<string, string>> = {
  A: '工程 works',
  B: '货物 goods',
  C: '服务 services',
};

/** Second level (category letter + 2 digits) -> name in the classification. */
export const specialtySecondLevels: Readonly<Record<string, string>> = {
  A01: '规划',
  A02: '投资策划与决策',
  A03: '勘察',
  A04: '设计',
  A05: '监理',
  A06: '工程造价',
  A07: '项目管理',
  A08: '施工',
  A09: '其他工程',
  B01: '机电产品',
  B02: '医疗器械',
  B03: '金属材料',
  B04: '石油及其制品',
  B05: '煤炭煤层气及其制品',
  B06: '化工材料及其制品',
  B07: '建筑材料',
  B08: '药品与医疗卫生',
  B09: '其他货物',
  C01: '勘察与调查',
  C02: '公共咨询',
  C03: '经济管理',
  C04: '工商管理',
  C05: '金融',
  C06: '法律',
  C07: '修理',
  C08: '租赁',
  C09: '交通运输与物流',
  C10: '节能服务',
  C11: '高新技术服务',
  C12: '其他服务',
};

/** Category letter, then 1-3 levels of two digits (the levels below the second are format-checked only). */
export const specialtyCodePattern = /^[ABC](\d{2}){1,3}$/;

/** Why `code` is not a specialty code, or undefined when it is one. */
export function specialtyCodeProblem(code: string): string | undefined {
  if (!/^[A-Z]/.test(code) || !(code[0]! in specialtyCategories)) {
    return `unknown specialty code ${JSON.stringify(code)}: the category letter must be A, B or C (works, goods, services; classification 2018-316)`;
  }
  if (!specialtyCodePattern.test(code)) {
    return `unknown specialty code ${JSON.stringify(code)}: must be A, B or C then 2, 4 or 6 digits, e.g. A08, A0801, A080101 (classification 2018-316)`;
  }
  const second = code.slice(0, 3);
  if (!(second in specialtySecondLevels)) {
    const known = Object.keys(specialtySecondLevels).filter((k) => k[0] === code[0]);
    return `unknown specialty code ${JSON.stringify(code)}: no category ${second} in classification 2018-316 (known: ${known[0]}-${known[known.length - 1]})`;
  }
  return undefined;
}

/** The classification's name for the code's second level, e.g. 施工 for A080101. */
export function specialtyName(code: string): string | undefined {
  return specialtySecondLevels[code.slice(0, 3)];
}

/**
 * An expert with specialty `expertCode` can serve a requirement for
 * `requiredCode` when its code is the same or narrower (A0801 serves A08;
 * A08 does not serve A0801: a general works expert is not a specialist).
 */
export function servesRequirement(expertCode: string, requiredCode: string): boolean {
  return expertCode.startsWith(requiredCode);
}
