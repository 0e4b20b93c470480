import type { AnalyzeScoresRequest, AnalyzeScoresResponse, SubmitScoresRequest, SubmitScoresResponse } from '../../gen/tongxing/api/v1/experts.js';
import { ScoreSheet } from '../../gen/tongxing/records/v1/records.js';
import { AlreadyExistsError, NotFoundError, PreconditionError, ValidationError } from '../../federation/errors.js';
import { analyzeScores as analyze, defaultDeviationFlagRatio, defaultRankDisagreementFlagPairs } from '../../federation/experts/analysis.js';
import { checkScoreSignature } from '../../federation/experts/scores.js';
import { toHex } from '../../federation/log/entry.js';
import { requireTime, validateEvaluationScore } from '../../federation/records/validate.js';
import { evaluationKey, scoreRefusal } from '../../federation/views/evaluation.js';
import { partsOf, requireSession, sessionViewAt } from './evaluation-sessions.js';
import { expertsRuntime, type EvaluationApiContext } from './experts-runtime.js';

// Score sheets, signed by the experts, are recorded at the session's host when
// the views would count them (views/evaluation.ts scoreRefusal); the
// supervision analysis is computed from the recorded sheets at any node.

export async function submitScores(c: EvaluationApiContext, request: SubmitScoresRequest): Promise<SubmitScoresResponse> {
  const self = c.replica.nodeId;
  const score = request.score;
  if (!score) throw new ValidationError('score', 'missing');
  validateEvaluationScore(score, 'score');
  const sheet = ScoreSheet.decode(score.sheet);
  if (toHex(sheet.host) !== self) {
    throw new PreconditionError(`score.sheet.host: the sheet is for ${c.describe(toHex(sheet.host))}; submit it at the session's host`);
  }
  return c.serial.run(evaluationKey(sheet.sessionId, self), async () => {
    const view = await sessionViewAt(c, sheet.sessionId, self);
    if (!view) throw new NotFoundError(`score.sheet.sessionId: this node hosts no session ${sheet.sessionId}`);
    const refusal = scoreRefusal(view, self, score, sheet);
    if (refusal?.refusal === 'already-scored') throw new AlreadyExistsError(`score.${refusal.field}: ${refusal.reason}`);
    if (refusal?.refusal === 'invalid-sheet') throw new ValidationError(`score.${refusal.field}`, refusal.reason);
    if (refusal) throw new PreconditionError(`score.${refusal.field}: ${refusal.reason}`);
    const written = await c.replica.write({ kind: { $case: 'evaluationScore', value: score } });
    return { provenance: c.provenance(written) };
  });
}

export async function analyzeScores(c: EvaluationApiContext, request: AnalyzeScoresRequest): Promise<AnalyzeScoresResponse> {
  if (!Number.isFinite(request.deviationFlagRatio) || request.deviationFlagRatio < 0) {
    throw new ValidationError('deviationFlagRatio', 'must be a finite number, at least 0 (0: the default)');
  }
  const found = await requireSession(c, request.sessionId, request.host);
  const parts = partsOf(found.view);
  const options = {
    deviationFlagRatio: request.deviationFlagRatio > 0 ? request.deviationFlagRatio : defaultDeviationFlagRatio,
    rankDisagreementFlagPairs: request.rankDisagreementFlagPairs > 0 ? request.rankDisagreementFlagPairs : defaultRankDisagreementFlagPairs,
  };
  const sheets = parts.scores.map((s) => ({ ...s, sheet: ScoreSheet.decode(s.score.sheet) }));
  const analysis = analyze(
    parts.session.bidderUsccs,
    sheets.map((s) => ({ expertRef: s.expertRef, scores: new Map(s.sheet.scores.map((b) => [b.bidderUscc, b.scoreHundredths / 100])) })),
    options,
  );
  const { expertKeys } = expertsRuntime(c);
  const experts = await Promise.all(
    analysis.experts.map(async (e, i) => {
      const { score, sheet } = sheets[i]!;
      requireTime(sheet.signedAtMs, 'sheet.signedAtMs');
      const binding = await expertKeys.bindingOf(e.expertRef, score.certificateDer, Number(sheet.signedAtMs));
      return {
        ...e,
        deviations: e.deviations.map((d) => ({ bidderUscc: d.bidderUscc, score: d.score, deviation: d.deviation })),
        disagreements: e.disagreements.map((d) => ({ higherUscc: d.higherUscc, lowerUscc: d.lowerUscc })),
        signatureValid: checkScoreSignature(score).ok,
        certificateBinding: binding.detail,
      };
    }),
  );
  return {
    bidders: analysis.bidders.map((b) => ({ bidderUscc: b.bidderUscc, trimmedMean: b.trimmedMean, sheets: b.sheets, rank: b.rank })),
    experts,
    deviationFlagRatio: options.deviationFlagRatio,
    rankDisagreementFlagPairs: options.rankDisagreementFlagPairs,
  };
}
