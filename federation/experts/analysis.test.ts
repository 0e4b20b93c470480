import { describe, expect, it } from 'vitest';
import { analyzeScores, deviation, trimmedMean, type ExpertSheet } from './analysis.js';

const sheet = (expertRef: string, scores: Record<string, number>): ExpertSheet => ({ expertRef, scores: new Map(Object.entries(scores)) });
const options = { deviationFlagRatio: 0.2, rankDisagreementFlagPairs: 1 };

describe('supervision analysis', () => {
  it('trimmed mean drops one highest and one lowest score (not with fewer than three)', () => {
    expect(trimmedMean([80, 90, 70, 100, 60])).toBe(80);
    expect(trimmedMean([80, 80, 80, 20])).toBe(80);
    expect(trimmedMean([70, 90])).toBe(80);
    expect(trimmedMean([])).toBeNaN();
  });

  it('deviation is (score - trimmed mean) / trimmed mean', () => {
    expect(deviation(96, 80)).toBeCloseTo(0.2);
    expect(deviation(60, 80)).toBeCloseTo(-0.25);
    expect(deviation(0, 0)).toBe(0);
    expect(deviation(5, 0)).toBe(Infinity);
  });

  it('flags an expert far from the trimmed mean, and one who ranks a pair opposite to the others', () => {
    const bidders = ['A', 'B', 'C'];
    const sheets = [
      sheet('e.1', { A: 90, B: 80, C: 70 }),
      sheet('e.2', { A: 88, B: 82, C: 71 }),
      sheet('e.3', { A: 91, B: 79, C: 69 }),
      sheet('e.outlier', { A: 89, B: 81, C: 40 }), // C far below: -43% of (69 + 70 + 70) / 3
      sheet('e.reverser', { A: 80, B: 84, C: 70 }), // B above A, the others A above B
    ];
    const result = analyzeScores(bidders, sheets, options);
    expect(result.bidders.map((b) => [b.bidderUscc, b.rank, b.sheets])).toEqual([['A', 1, 5], ['B', 2, 5], ['C', 3, 5]]);
    expect(result.bidders[0]!.trimmedMean).toBeCloseTo((88 + 89 + 90) / 3);
    const byRef = new Map(result.experts.map((e) => [e.expertRef, e]));
    expect(byRef.get('e.outlier')!.flagged).toBe(true);
    expect(byRef.get('e.outlier')!.reasons[0]).toMatch(/scored C 40 against a trimmed mean of 69.67 \(-42.6%\)/);
    expect(byRef.get('e.outlier')!.disagreements).toEqual([]);
    expect(byRef.get('e.reverser')!.disagreements).toEqual([{ higherUscc: 'B', lowerUscc: 'A' }]);
    expect(byRef.get('e.reverser')!.flagged).toBe(true);
    expect(byRef.get('e.1')!.flagged).toBe(false);
    expect(byRef.get('e.1')!.maxAbsDeviation).toBeLessThan(0.05);
  });

  it('thresholds are options: more disagreements needed, a wider deviation allowed', () => {
    const sheets = [sheet('e.1', { A: 90, B: 80 }), sheet('e.2', { A: 91, B: 79 }), sheet('e.3', { A: 79, B: 81 })];
    expect(analyzeScores(['A', 'B'], sheets, { deviationFlagRatio: 0.5, rankDisagreementFlagPairs: 2 }).experts.every((e) => !e.flagged)).toBe(true);
    expect(analyzeScores(['A', 'B'], sheets, options).experts.find((e) => e.expertRef === 'e.3')!.flagged).toBe(true);
  });

  it('ties are no disagreement', () => {
    const sheets = [sheet('e.1', { A: 80, B: 80 }), sheet('e.2', { A: 90, B: 70 }), sheet('e.3', { A: 85, B: 85 })];
    expect(analyzeScores(['A', 'B'], sheets, { ...options, deviationFlagRatio: 1 }).experts.every((e) => e.disagreements.length === 0)).toBe(true);
  });
});
