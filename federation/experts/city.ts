// Cities for the "other cities only" rule and per-city quotas. GB/T 2260
// division codes are province (2 digits), prefecture-level city (2), county
// or district (2): 530102 (Wuhua district) lies in 5301 (Kunming). The four
// municipalities directly under the central government (Beijing 11, Tianjin 12,
// Shanghai 31, Chongqing 50) are cities themselves, so their whole province
// code is one city: 500000 and 500112 are both Chongqing.

const municipalities = new Set(['11', '12', '31', '50']);

/** The city a 6-digit division code lies in, as a code prefix ("5301", or "50" for Chongqing). */
export function cityOf(regionCode: string): string {
  const province = regionCode.slice(0, 2);
  return municipalities.has(province) ? province : regionCode.slice(0, 4);
}

export function sameCity(a: string, b: string): boolean {
  return cityOf(a) === cityOf(b);
}
