import {
  EvaluationServiceClient,
  ExpertServiceClient,
  type AnalyzeScoresRequest,
  type AnalyzeScoresResponse,
  type AuditDrawResponse,
  type CreateSessionResponse,
  type DrawExpertsResponse,
  type ExpertPersonal,
  type GetExpertResponse,
  type GetSessionResponse,
  type RegisterExpertResponse,
  type SetAvailabilityResponse,
  type SubmitScoresResponse,
  type UpdateExpertResponse,
} from '../../gen/tongxing/api/v1/experts.js';
import type { EvaluationScore, EvaluationSession, ExpertAvailability, ExpertProfile } from '../../gen/tongxing/records/v1/records.js';
import { panelSeatsMax } from '../../federation/limits.js';
import { apiCallTimeoutMs, leaseCallTimeoutMs } from '../limits.js';
import { apiChannel, unaryCall, using, type ApiClientOptions, type UnaryMethod } from './client.js';

// A promise-based client of ExpertService and EvaluationService on one node,
// for the CLI and tests; failures are ApiErrors, as with the other services.

export interface ExpertsClient {
  readonly address: string;
  registerExpert(personal: ExpertPersonal, profile: ExpertProfile): Promise<RegisterExpertResponse>;
  updateExpert(profile: ExpertProfile): Promise<UpdateExpertResponse>;
  setAvailability(availability: ExpertAvailability): Promise<SetAvailabilityResponse>;
  getExpert(expertRef: string, includePersonal?: boolean): Promise<GetExpertResponse>;
  createSession(session: EvaluationSession): Promise<CreateSessionResponse>;
  drawExperts(sessionId: string): Promise<DrawExpertsResponse>;
  getSession(sessionId: string, host?: Uint8Array): Promise<GetSessionResponse>;
  auditDraw(sessionId: string, host?: Uint8Array): Promise<AuditDrawResponse>;
  submitScores(score: EvaluationScore): Promise<SubmitScoresResponse>;
  analyzeScores(request: Partial<AnalyzeScoresRequest> & { sessionId: string }): Promise<AnalyzeScoresResponse>;
  close(): void;
}

/** A draw waits for one lease call per attempt: give it room for a full panel of slow home nodes. */
const drawCallTimeoutMs = apiCallTimeoutMs + 2 * panelSeatsMax * leaseCallTimeoutMs;

export function connectExperts(address: string, options: ApiClientOptions = {}): ExpertsClient {
  const timeoutMs = options.callTimeoutMs ?? apiCallTimeoutMs;
  const channel = apiChannel(address, options);
  const experts = new ExpertServiceClient(address, channel.credentials, channel.options);
  const evaluation = new EvaluationServiceClient(address, channel.credentials, { channelOverride: experts.getChannel() });

  const call = <Request, Response>(method: UnaryMethod<Request, Response>, request: Request, deadlineMs = timeoutMs): Promise<Response> =>
    unaryCall(address, method, request, deadlineMs, channel.metadata());
  const none = Buffer.alloc(0);

  return {
    address,
    registerExpert: (personal, profile) => call(experts.registerExpert.bind(experts), { personal, profile }),
    updateExpert: (profile) => call(experts.updateExpert.bind(experts), { profile }),
    setAvailability: (availability) => call(experts.setAvailability.bind(experts), { availability }),
    getExpert: (expertRef, includePersonal = false) => call(experts.getExpert.bind(experts), { expertRef, includePersonal }),
    createSession: (session) => call(evaluation.createSession.bind(evaluation), { session }),
    drawExperts: (sessionId) => call(evaluation.drawExperts.bind(evaluation), { sessionId }, Math.max(timeoutMs, drawCallTimeoutMs)),
    getSession: (sessionId, host) => call(evaluation.getSession.bind(evaluation), { sessionId, host: Buffer.from(host ?? none) }),
    auditDraw: (sessionId, host) => call(evaluation.auditDraw.bind(evaluation), { sessionId, host: Buffer.from(host ?? none) }),
    submitScores: (score) => call(evaluation.submitScores.bind(evaluation), { score }),
    analyzeScores: (request) =>
      call(evaluation.analyzeScores.bind(evaluation), {
        sessionId: request.sessionId,
        host: Buffer.from(request.host ?? none),
        deviationFlagRatio: request.deviationFlagRatio ?? 0,
        rankDisagreementFlagPairs: request.rankDisagreementFlagPairs ?? 0,
      }),
    close: () => experts.close(),
  };
}

export function withExperts<T>(address: string, use: (api: ExpertsClient) => Promise<T>, options?: ApiClientOptions): Promise<T> {
  return using(connectExperts(address, options), use);
}
