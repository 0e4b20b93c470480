import { randomBytes } from 'node:crypto';
import {
  AuditVerdict,
  EvaluationServiceService,
  type AnalyzeScoresRequest,
  type AnalyzeScoresResponse,
  type AuditDrawRequest,
  type AuditDrawResponse,
  type CreateSessionRequest,
  type CreateSessionResponse,
  type DrawAttempt,
  type DrawExpertsRequest,
  type DrawExpertsResponse,
  type GetSessionRequest,
  type GetSessionResponse,
  type PanelSeat,
  type SubmitScoresRequest,
  type SubmitScoresResponse,
} from '../../gen/tongxing/api/v1/experts.js';
import {
  EvaluationDraw,
  EvaluationOutcome,
  EvaluationScore,
  EvaluationSession,
  LeaseOutcome,
  ScoreSheet,
} from '../../gen/tongxing/records/v1/records.js';
import { MembershipError, ValidationError } from '../../federation/errors.js';
import { analyzeScores, defaultDeviationFlagRatio, defaultRankDisagreementFlagPairs } from '../../federation/experts/analysis.js';
import { auditDraw } from '../../federation/experts/audit.js';
import { basisFromPositions, basisToPositions, missingFromBasis, readWorld, type Basis } from '../../federation/experts/basis.js';
import { drawOrders, nextAttempt, replayOutcomes } from '../../federation/experts/draw.js';
import { slotOf } from '../../federation/experts/lease.js';
import { checkScoreSignature } from '../../federation/experts/scores.js';
import { drawSeedBytes, seedCommitment } from '../../federation/experts/shuffle.js';
import type { ExpertWorld } from '../../federation/experts/world.js';
import { decodeEntry, decodeRecord, toHex } from '../../federation/log/entry.js';
import * as queries from '../../federation/queries.js';
import { requireIdentifier, requireTime, validateEvaluationScore, validateEvaluationSession } from '../../federation/records/validate.js';
import { evaluationKey, evaluationPrefix, scoreRefusal, sessionRecorded, startsAfter, type EvaluationView } from '../../federation/views/evaluation.js';
import { decodeView, type Provenance } from '../../federation/views/provenance.js';
import { LeaseCallError, NotHomeNodeError, UnknownExpertError, type LeaseAnswer, type LeaseRequest } from '../peer/evaluation.js';
import { expertsRuntime, type EvaluationApiContext } from './experts-runtime.js';
import { AlreadyExistsError, NotFoundError, PreconditionError, type ApiService } from './service.js';

// EvaluationService: remote cross-city evaluation (远程异地评标) at the host
// node. Create records the session with SM3(seed) before any candidate list
// exists; draw computes the candidates from this node's logs at a basis it
// records, reveals the seed with the seeded order, then walks it asking each
// expert's home node for a lease and records every outcome; audit re-runs all
// of it on any node; scores are signed by the experts; analysis reads them.

/** Sessions with one id at different hosts that a lookup without host lists. */
const sessionHostsListedMax = 16;

interface Found {
  readonly host: string;
  readonly view: EvaluationView;
}

interface SessionParts {
  readonly session: EvaluationSession;
  readonly draw: EvaluationDraw | undefined;
  readonly outcomes: Array<{ outcome: EvaluationOutcome; at: Provenance }>;
  readonly scores: Array<{ score: EvaluationScore; at: Provenance; expertRef: string }>;
}

function partsOf(view: EvaluationView): SessionParts {
  return {
    session: EvaluationSession.fromJSON(view.session),
    draw: view.draw && EvaluationDraw.fromJSON(view.draw.value),
    outcomes: view.outcomes.map((o) => ({ outcome: EvaluationOutcome.fromJSON(o.value), at: o.at })),
    scores: view.scores.map((s) => ({ score: EvaluationScore.fromJSON(s.value), at: s.at, expertRef: s.expertRef })),
  };
}

export function evaluationService(c: EvaluationApiContext): ApiService {
  const { replica, serial, provenance, describe, clock, cityOf } = c;
  const runtime = expertsRuntime(c);
  const self = replica.nodeId;
  const excluded = (author: string) => replica.isQuarantined(author);

  async function viewAt(sessionId: string, host: string): Promise<EvaluationView | undefined> {
    return decodeView<EvaluationView>(await replica.store.getState(evaluationKey(sessionId, host)));
  }

  /** The session with this id at `hostBytes`, or at the only host that has one. */
  async function findSession(sessionId: string, hostBytes: Uint8Array): Promise<Found | undefined> {
    requireIdentifier(sessionId, 'sessionId');
    if (hostBytes.length > 0) {
      if (hostBytes.length !== 32) throw new ValidationError('host', `${hostBytes.length} bytes, a node id is 32`);
      const host = toHex(hostBytes);
      const view = await viewAt(sessionId, host);
      return view && { host, view };
    }
    const found = await replica.store.stateRange(evaluationPrefix(sessionId), sessionHostsListedMax);
    if (found.length > 1) {
      const hosts = found.map(([key]) => describe(key.slice(key.lastIndexOf('/') + 1)));
      throw new ValidationError('host', `${found.length}${found.length === sessionHostsListedMax ? '+' : ''} hosts have a session ${sessionId} (${hosts.join(', ')}): name the host`);
    }
    if (found.length === 0) return undefined;
    const [key, bytes] = found[0]!;
    return { host: key.slice(key.lastIndexOf('/') + 1), view: decodeView<EvaluationView>(bytes)! };
  }

  async function requireSession(sessionId: string, hostBytes: Uint8Array): Promise<Found> {
    const found = await findSession(sessionId, hostBytes);
    if (!found) throw new NotFoundError(`sessionId: no session ${sessionId} is known here${hostBytes.length > 0 ? ` at ${describe(toHex(hostBytes))}` : ''}`);
    return found;
  }

  /** What this store holds of each log: the seq of its latest stored head (not a write still being committed). */
  async function storedBasis(): Promise<Map<string, number>> {
    return new Map((await replica.store.latestHeads()).map((h) => [toHex(h.head!.author), Number(h.head!.seq)]));
  }

  function seatsOf(session: EvaluationSession, outcomes: readonly EvaluationOutcome[]): PanelSeat[] {
    return outcomes
      .filter((o) => o.outcome === LeaseOutcome.LEASE_OUTCOME_GRANTED)
      .map((o) => ({
        requirementIndex: o.requirementIndex,
        specialtyCode: session.requirements[o.requirementIndex]?.specialtyCode ?? '',
        expertRef: o.expertRef,
        homeNode: Buffer.from(o.homeNode),
        homeCity: cityOf(toHex(o.homeNode)),
        leaseSeq: o.leaseSeq,
      }));
  }

  const attemptOf = (o: { outcome: EvaluationOutcome; at: Provenance }): DrawAttempt => ({ outcome: o.outcome, recorded: provenance(o.at), homeCity: cityOf(toHex(o.outcome.homeNode)) });

  async function createSession(request: CreateSessionRequest): Promise<CreateSessionResponse> {
    if (!request.session) throw new ValidationError('session', 'missing');
    const hostRegionCode = replica.members.get(self)?.regionCode ?? '';
    const seed = randomBytes(drawSeedBytes);
    const session: EvaluationSession = { ...request.session, hostRegionCode, seedCommitment: seedCommitment(seed) };
    validateEvaluationSession(session, 'session');
    const nowMs = clock.nowMs();
    if (!startsAfter(session, nowMs)) {
      throw new ValidationError('session.window.fromMs', `${session.window!.fromMs} is in the past (now ${nowMs}): a session is created before its slot`);
    }
    return serial.run(evaluationKey(session.sessionId, self), async () => {
      const used = sessionRecorded(await viewAt(session.sessionId, self));
      if (used) throw new AlreadyExistsError(`session.sessionId: this node already hosts a session ${session.sessionId} (log seq ${used.seq})`);
      // The seed is durable before its commitment is published: a crash in between leaves an unused seed, never a commitment without one.
      await runtime.privateStore.putSeed(session.sessionId, seed);
      const written = await replica.write({ kind: { $case: 'evaluationSession', value: session } });
      return { provenance: provenance(written), seedCommitment: Buffer.from(session.seedCommitment) };
    });
  }

  /** Asks the home node: this node's own desk, or its peer service. Never throws: no decision is an unreachable outcome. */
  async function askHome(home: string, request: LeaseRequest): Promise<{ answer?: LeaseAnswer; unreachable?: string }> {
    try {
      if (home === self) return { answer: await runtime.desk.request(self, request) };
      if (!runtime.leaseClient) return { unreachable: 'this node has no lease client: only experts homed here can be leased' };
      return { answer: await runtime.leaseClient.requestLease(home, request) };
    } catch (error) {
      const noDecision = error instanceof LeaseCallError || error instanceof NotHomeNodeError || error instanceof UnknownExpertError || error instanceof MembershipError;
      if (noDecision) return { unreachable: error.message };
      throw error;
    }
  }

  async function drawExperts(request: DrawExpertsRequest): Promise<DrawExpertsResponse> {
    requireIdentifier(request.sessionId, 'sessionId');
    return serial.run(evaluationKey(request.sessionId, self), async () => {
      const view = await viewAt(request.sessionId, self);
      if (!view) {
        const elsewhere = await findSession(request.sessionId, Buffer.alloc(0)).catch(() => undefined);
        if (elsewhere) throw new PreconditionError(`sessionId: session ${request.sessionId} is hosted at ${describe(elsewhere.host)}; only its host draws`);
        throw new NotFoundError(`sessionId: this node hosts no session ${request.sessionId}`);
      }
      const { session, outcomes: recorded, draw: drawnBefore } = partsOf(view);
      let draw = drawnBefore;
      let drawn = view.draw?.at;
      const nowMs = clock.nowMs();
      if (nowMs >= Number(session.window!.fromMs)) throw new PreconditionError(`sessionId: the slot of session ${session.sessionId} has started; too late to draw`);

      let world: ExpertWorld;
      if (!draw) {
        const seed = await runtime.privateStore.seed(session.sessionId);
        if (!seed) throw new PreconditionError(`sessionId: this node no longer has the seed of session ${session.sessionId} (store restored without private state?): open a new session`);
        // Fails closed like a sanctions check: a member whose data is too old may have sanctioned one of the candidates.
        const stale = queries.freshness(replica, nowMs, c.freshnessBudgetMs).filter((f) => f.stale && !excluded(f.nodeId));
        if (stale.length > 0) {
          const which = stale.map((f) => `${describe(f.nodeId)} ${f.ageMs === undefined ? 'never heard' : `${f.ageMs} ms old`}`);
          throw new PreconditionError(`cannot draw: sanctions data of ${which.join(', ')} is beyond the freshness budget ${c.freshnessBudgetMs} ms`);
        }
        const basis: Basis = await storedBasis();
        world = await readWorld(replica.store, basis, { excluded });
        draw = { sessionId: session.sessionId, seed: Buffer.from(seed), basis: basisToPositions(basis), orders: drawOrders(session, seed, world) };
        drawn = await replica.write({ kind: { $case: 'evaluationDraw', value: draw } });
      } else {
        // Resuming an interrupted draw: the same world, read again from the recorded basis.
        world = await readWorld(replica.store, basisFromPositions(draw.basis), { excluded });
      }

      const regionOf = (ref: string) => world.experts.get(ref)?.expert.profile.regionCode ?? '';
      const outcomes = recorded.map((o) => o.outcome);
      const attempts: DrawAttempt[] = recorded.map(attemptOf);
      const slot = slotOf(session.window!);
      for (;;) {
        const next = nextAttempt(session, draw.orders, replayOutcomes(session, outcomes, regionOf), regionOf);
        if (!next) break;
        const home = world.experts.get(next.expertRef)!.expert.home.author;
        const { answer, unreachable } = await askHome(home, { sessionId: session.sessionId, expertRef: next.expertRef, slot, projectCode: session.projectCode });
        const outcome: EvaluationOutcome = {
          sessionId: session.sessionId,
          requirementIndex: next.requirementIndex,
          expertRef: next.expertRef,
          outcome: answer === undefined ? LeaseOutcome.LEASE_OUTCOME_UNREACHABLE : answer.granted ? LeaseOutcome.LEASE_OUTCOME_GRANTED : LeaseOutcome.LEASE_OUTCOME_REFUSED,
          reason: (unreachable ?? answer?.refusalReason ?? '').slice(0, 500),
          homeNode: Buffer.from(home, 'hex'),
          leaseSeq: BigInt(answer?.leaseSeq ?? 0),
        };
        const at = await replica.write({ kind: { $case: 'evaluationOutcome', value: outcome } });
        outcomes.push(outcome);
        attempts.push(attemptOf({ outcome, at }));
      }
      const state = replayOutcomes(session, outcomes, regionOf);
      const shortfall = state.open.map((n) => Math.max(0, n));
      return {
        draw: drawn && provenance(drawn),
        panel: seatsOf(session, outcomes),
        attempts,
        complete: shortfall.every((n) => n === 0),
        shortfall,
      };
    });
  }

  async function getSession(request: GetSessionRequest): Promise<GetSessionResponse> {
    const found = await findSession(request.sessionId, request.host);
    if (!found) return { found: false, session: undefined, created: undefined, draw: undefined, drawn: undefined, attempts: [], panel: [], scoreSheets: 0 };
    const parts = partsOf(found.view);
    return {
      found: true,
      session: parts.session,
      created: provenance(found.view.created),
      draw: parts.draw,
      drawn: found.view.draw && provenance(found.view.draw.at),
      attempts: parts.outcomes.map(attemptOf),
      panel: seatsOf(parts.session, parts.outcomes.map((o) => o.outcome)),
      scoreSheets: parts.scores.length,
    };
  }

  async function auditDrawHandler(request: AuditDrawRequest): Promise<AuditDrawResponse> {
    const found = await requireSession(request.sessionId, request.host);
    const parts = partsOf(found.view);
    if (!parts.draw || !found.view.draw) throw new PreconditionError(`sessionId: session ${request.sessionId} has not been drawn yet (as far as this node knows)`);
    const basis = basisFromPositions(parts.draw.basis);
    const stored = await storedBasis();
    const missing = missingFromBasis(basis, (author) => stored.get(author) ?? 0).map((m) => `${describe(m.author)} log up to seq ${m.needed}, have ${m.stored}`);
    const world = missing.length === 0 ? await readWorld(replica.store, basis, { excluded }) : undefined;
    const result = await auditDraw({
      session: parts.session,
      created: found.view.created,
      draw: parts.draw,
      drawn: found.view.draw.at,
      outcomes: parts.outcomes.map((o) => o.outcome),
      world,
      missing,
      leaseAt: async (home, seq) => {
        if (seq < 1) return 'not-a-lease';
        const [entry] = await replica.store.entries(home, seq, seq, 1);
        if (!entry) return 'missing';
        const record = decodeRecord(decodeEntry(entry.bytes).entry);
        return record.kind?.$case === 'expertLease' ? record.kind.value : 'not-a-lease';
      },
    });
    const verdicts = { match: AuditVerdict.AUDIT_VERDICT_MATCH, mismatch: AuditVerdict.AUDIT_VERDICT_MISMATCH, incomplete: AuditVerdict.AUDIT_VERDICT_INCOMPLETE };
    return {
      verdict: verdicts[result.verdict],
      checks: result.checks.map((ch) => ({ name: ch.name, ok: ch.status === 'ok', detail: ch.status === 'incomplete' ? `incomplete: ${ch.detail}` : ch.detail })),
      host: Buffer.from(found.host, 'hex'),
      hostCity: cityOf(found.host),
    };
  }

  async function submitScores(request: SubmitScoresRequest): Promise<SubmitScoresResponse> {
    const score = request.score;
    if (!score) throw new ValidationError('score', 'missing');
    validateEvaluationScore(score, 'score');
    const sheet = ScoreSheet.decode(score.sheet);
    if (toHex(sheet.host) !== self) {
      throw new PreconditionError(`score.sheet.host: the sheet is for ${describe(toHex(sheet.host))}; submit it at the session's host`);
    }
    return serial.run(evaluationKey(sheet.sessionId, self), async () => {
      const view = await viewAt(sheet.sessionId, self);
      if (!view) throw new NotFoundError(`score.sheet.sessionId: this node hosts no session ${sheet.sessionId}`);
      const refusal = scoreRefusal(view, self, score, sheet);
      if (refusal?.refusal === 'already-scored') throw new AlreadyExistsError(`score.${refusal.field}: ${refusal.reason}`);
      if (refusal?.refusal === 'invalid-sheet') throw new ValidationError(`score.${refusal.field}`, refusal.reason);
      if (refusal) throw new PreconditionError(`score.${refusal.field}: ${refusal.reason}`);
      const written = await replica.write({ kind: { $case: 'evaluationScore', value: score } });
      return { provenance: provenance(written) };
    });
  }

  async function analyzeScoresHandler(request: AnalyzeScoresRequest): Promise<AnalyzeScoresResponse> {
    if (!Number.isFinite(request.deviationFlagRatio) || request.deviationFlagRatio < 0) {
      throw new ValidationError('deviationFlagRatio', 'must be a finite number, at least 0 (0: the default)');
    }
    const found = await requireSession(request.sessionId, request.host);
    const parts = partsOf(found.view);
    const options = {
      deviationFlagRatio: request.deviationFlagRatio > 0 ? request.deviationFlagRatio : defaultDeviationFlagRatio,
      rankDisagreementFlagPairs: request.rankDisagreementFlagPairs > 0 ? request.rankDisagreementFlagPairs : defaultRankDisagreementFlagPairs,
    };
    const sheets = parts.scores.map((s) => ({ ...s, sheet: ScoreSheet.decode(s.score.sheet) }));
    const analysis = analyzeScores(
      parts.session.bidderUsccs,
      sheets.map((s) => ({ expertRef: s.expertRef, scores: new Map(s.sheet.scores.map((b) => [b.bidderUscc, b.scoreHundredths / 100])) })),
      options,
    );
    const experts = await Promise.all(
      analysis.experts.map(async (e, i) => {
        const { score, sheet } = sheets[i]!;
        requireTime(sheet.signedAtMs, 'sheet.signedAtMs');
        const binding = await runtime.expertKeys.bindingOf(e.expertRef, score.certificateDer, Number(sheet.signedAtMs));
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

  return {
    definition: EvaluationServiceService,
    handlers: {
      createSession,
      drawExperts,
      getSession,
      auditDraw: auditDrawHandler,
      submitScores,
      analyzeScores: analyzeScoresHandler,
    },
  };
}
