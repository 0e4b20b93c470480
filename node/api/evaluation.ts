import { randomBytes } from 'node:crypto';
import {
  AuditVerdict,
  EvaluationServiceService,
  type AuditDrawRequest,
  type AuditDrawResponse,
  type CreateSessionRequest,
  type CreateSessionResponse,
  type GetSessionRequest,
  type GetSessionResponse,
} from '../../gen/tongxing/api/v1/experts.js';
import type { EvaluationSession } from '../../gen/tongxing/records/v1/records.js';
import { AlreadyExistsError, PreconditionError, ValidationError } from '../../federation/errors.js';
import { auditDraw as audit } from '../../federation/experts/audit.js';
import { basisFromPositions, missingFromBasis, readWorld } from '../../federation/experts/basis.js';
import { drawSeedBytes, seedCommitment } from '../../federation/experts/shuffle.js';
import { decodeEntry, decodeRecord } from '../../federation/log/entry.js';
import { validateEvaluationSession } from '../../federation/records/validate.js';
import { evaluationKey, sessionRecorded, startsAfter } from '../../federation/views/evaluation.js';
import { drawCreditPolicy, drawExperts } from './evaluation-draw.js';
import { analyzeScores, submitScores } from './evaluation-scores.js';
import { attemptOf, findSession, partsOf, requireSession, seatsOf, sessionViewAt, storedBasis } from './evaluation-sessions.js';
import { expertsRuntime, type EvaluationApiContext } from './experts-runtime.js';
import type { ApiService } from './service.js';

// EvaluationService: remote cross-city evaluation (远程异地评标) at the host
// node. Create records the session with SM3(seed) before any candidate list
// exists; draw computes the candidates from this node's logs at a basis it
// records, reveals the seed with the seeded order, then walks it asking each
// expert's home node for a lease and records every outcome
// (evaluation-draw.ts); audit re-runs all of it on any node; scores are
// signed by the experts; analysis reads them (evaluation-scores.ts).

export function evaluationService(c: EvaluationApiContext): ApiService {
  return {
    definition: EvaluationServiceService,
    handlers: {
      createSession: (request) => createSession(c, request),
      drawExperts: (request) => drawExperts(c, request),
      getSession: (request) => getSession(c, request),
      auditDraw: (request) => auditDraw(c, request),
      submitScores: (request) => submitScores(c, request),
      analyzeScores: (request) => analyzeScores(c, request),
    },
  };
}

async function createSession(c: EvaluationApiContext, request: CreateSessionRequest): Promise<CreateSessionResponse> {
  const self = c.replica.nodeId;
  if (!request.session) throw new ValidationError('session', 'missing');
  const hostRegionCode = c.replica.members.get(self)?.regionCode ?? '';
  const seed = randomBytes(drawSeedBytes);
  const session: EvaluationSession = { ...request.session, hostRegionCode, seedCommitment: seedCommitment(seed) };
  validateEvaluationSession(session, 'session');
  const nowMs = c.clock.nowMs();
  if (!startsAfter(session, nowMs)) {
    throw new ValidationError('session.window.fromMs', `${session.window!.fromMs} is in the past (now ${nowMs}): a session is created before its slot`);
  }
  return c.serial.run(evaluationKey(session.sessionId, self), async () => {
    const used = sessionRecorded(await sessionViewAt(c, session.sessionId, self));
    if (used) throw new AlreadyExistsError(`session.sessionId: this node already hosts a session ${session.sessionId} (log seq ${used.seq})`);
    // The seed is durable before its commitment is published: a crash in between leaves an unused seed, never a commitment without one.
    await expertsRuntime(c).privateStore.putSeed(session.sessionId, seed);
    const written = await c.replica.write({ kind: { $case: 'evaluationSession', value: session } });
    return { provenance: c.provenance(written), seedCommitment: Buffer.from(session.seedCommitment) };
  });
}

async function getSession(c: EvaluationApiContext, request: GetSessionRequest): Promise<GetSessionResponse> {
  const found = await findSession(c, request.sessionId, request.host);
  if (!found) return { found: false, session: undefined, created: undefined, draw: undefined, drawn: undefined, attempts: [], panel: [], scoreSheets: 0 };
  const parts = partsOf(found.view);
  return {
    found: true,
    session: parts.session,
    created: c.provenance(found.view.created),
    draw: parts.draw,
    drawn: found.view.draw && c.provenance(found.view.draw.at),
    attempts: parts.outcomes.map((o) => attemptOf(c, o)),
    panel: seatsOf(c, parts.session, parts.outcomes.map((o) => o.outcome)),
    scoreSheets: parts.scores.length,
  };
}

async function auditDraw(c: EvaluationApiContext, request: AuditDrawRequest): Promise<AuditDrawResponse> {
  const found = await requireSession(c, request.sessionId, request.host);
  const parts = partsOf(found.view);
  if (!parts.draw || !found.view.draw) throw new PreconditionError(`sessionId: session ${request.sessionId} has not been drawn yet (as far as this node knows)`);
  const basis = basisFromPositions(parts.draw.basis);
  const stored = await storedBasis(c);
  const missing = missingFromBasis(basis, (author) => stored.get(author) ?? 0).map((m) => `${c.describe(m.author)} log up to seq ${m.needed}, have ${m.stored}`);
  const creditPolicy = drawCreditPolicy(c, found.view.created, parts.session);
  const world = missing.length === 0 ? await readWorld(c.replica.store, basis, { excluded: (author) => c.replica.isQuarantined(author), creditPolicy }) : undefined;
  const result = await audit({
    session: parts.session,
    created: found.view.created,
    draw: parts.draw,
    drawn: found.view.draw.at,
    outcomes: parts.outcomes.map((o) => o.outcome),
    world,
    missing,
    leaseAt: async (home, seq) => {
      if (seq < 1) return 'not-a-lease';
      const [entry] = await c.replica.store.entries(home, seq, seq, 1);
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
    hostCity: c.cityOf(found.host),
  };
}
