// Supervision analytics of a panel's scores (docs/DOMAIN.md, "Score analysis",
// after Kunming's practice; no formula was published, so they are fixed here):
// - per bidder, the trimmed mean: drop one highest and one lowest score, average
//   the rest (with fewer than 3 scores nothing is dropped);
// - per expert and bidder, the deviation (score - trimmed mean) / trimmed mean;
// - pairwise rank disagreement: an expert who scores bidder a above bidder b
//   while the mean of the other experts' scores puts b above a (ties on either
//   side are no disagreement);
// - an expert is flagged when some |deviation| exceeds the deviation ratio, or
//   when it disagrees on at least the given number of pairs.
// Pure and deterministic: bidders are taken in the session's order, experts in
// the order given.

export const defaultDeviationFlagRatio = 0.2;
export const defaultRankDisagreementFlagPairs = 1;

export interface ExpertSheet {
  readonly expertRef: string;
  /** Bidder USCC -> points. */
  readonly scores: ReadonlyMap<string, number>;
}

export interface AnalysisOptions {
  readonly deviationFlagRatio: number;
  readonly rankDisagreementFlagPairs: number;
}

export interface BidderResult {
  readonly bidderUscc: string;
  readonly trimmedMean: number;
  readonly sheets: number;
  /** 1 = highest trimmed mean; equal means share a rank. */
  readonly rank: number;
}

export interface ExpertResult {
  readonly expertRef: string;
  readonly deviations: Array<{ readonly bidderUscc: string; readonly score: number; readonly deviation: number }>;
  readonly maxAbsDeviation: number;
  readonly disagreements: Array<{ readonly higherUscc: string; readonly lowerUscc: string }>;
  readonly flagged: boolean;
  readonly reasons: string[];
}

export interface ScoreAnalysis {
  readonly bidders: BidderResult[];
  readonly experts: ExpertResult[];
}

export function trimmedMean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const kept = sorted.length >= 3 ? sorted.slice(1, -1) : sorted;
  return kept.reduce((sum, v) => sum + v, 0) / kept.length;
}

/** (score - mean) / mean; a zero mean gives 0 for a zero score and ±Infinity otherwise. */
export function deviation(score: number, mean: number): number {
  if (mean === 0) return score === 0 ? 0 : score > 0 ? Infinity : -Infinity;
  return (score - mean) / mean;
}

const sign = (x: number): number => (x > 0 ? 1 : x < 0 ? -1 : 0);

function mean(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

export function analyzeScores(bidders: readonly string[], sheets: readonly ExpertSheet[], options: AnalysisOptions): ScoreAnalysis {
  const means = new Map<string, number>();
  const bidderResults = bidders.map((bidder) => {
    const values = sheets.map((s) => s.scores.get(bidder)).filter((v): v is number => v !== undefined);
    const tm = trimmedMean(values);
    means.set(bidder, tm);
    return { bidderUscc: bidder, trimmedMean: tm, sheets: values.length };
  });
  const ranked = bidderResults.map((b) => ({ ...b, rank: 1 + bidderResults.filter((o) => o.trimmedMean > b.trimmedMean).length }));

  const experts = sheets.map((sheet): ExpertResult => {
    const deviations = bidders
      .filter((b) => sheet.scores.has(b))
      .map((b) => ({ bidderUscc: b, score: sheet.scores.get(b)!, deviation: deviation(sheet.scores.get(b)!, means.get(b)!) }));
    const maxAbsDeviation = deviations.reduce((max, d) => Math.max(max, Math.abs(d.deviation)), 0);
    const others = sheets.filter((s) => s !== sheet);
    const disagreements: ExpertResult['disagreements'] = [];
    for (let i = 0; i < bidders.length; i++) {
      for (let j = i + 1; j < bidders.length; j++) {
        const [a, b] = [bidders[i]!, bidders[j]!];
        const own = sign((sheet.scores.get(a) ?? Number.NaN) - (sheet.scores.get(b) ?? Number.NaN));
        const rated = others.filter((o) => o.scores.has(a) && o.scores.has(b));
        if (own === 0 || rated.length === 0) continue; // a tie, or a bidder it did not score
        const theirs = sign(mean(rated.map((o) => o.scores.get(a)!)) - mean(rated.map((o) => o.scores.get(b)!)));
        if (theirs === -own) disagreements.push(own > 0 ? { higherUscc: a, lowerUscc: b } : { higherUscc: b, lowerUscc: a });
      }
    }
    const reasons: string[] = [];
    for (const d of deviations) {
      if (Math.abs(d.deviation) > options.deviationFlagRatio) {
        reasons.push(`scored ${d.bidderUscc} ${d.score} against a trimmed mean of ${means.get(d.bidderUscc)!.toFixed(2)} (${(d.deviation * 100).toFixed(1)}%)`);
      }
    }
    if (disagreements.length >= options.rankDisagreementFlagPairs) {
      for (const d of disagreements) reasons.push(`ranked ${d.higherUscc} above ${d.lowerUscc}, the other experts the other way round`);
    }
    return { expertRef: sheet.expertRef, deviations, maxAbsDeviation, disagreements, flagged: reasons.length > 0, reasons };
  });
  return { bidders: ranked, experts };
}
