import { Server, ServerCredentials, status, type handleUnaryCall, type ServerErrorResponse } from '@grpc/grpc-js';
import {
  EntityServiceService,
  NodeServiceService,
  SanctionServiceService,
  Verdict,
  type CheckSanctionsRequest,
  type CheckSanctionsResponse,
  type EntityServiceServer,
  type GetEntityRequest,
  type GetEntityResponse,
  type GetStatusResponse,
  type IssueSanctionRequest,
  type IssueSanctionResponse,
  type LiftSanctionRequest,
  type LiftSanctionResponse,
  type NodeServiceServer,
  type Provenance as ApiProvenance,
  type RegisterEntityRequest,
  type RegisterEntityResponse,
  type SanctionServiceServer,
} from '../../gen/tongxing/api/v1/api.js';
import { EntityProfile } from '../../gen/tongxing/records/v1/records.js';
import { EncodingError, LimitError, TongxingError, ValidationError } from '../../federation/errors.js';
import { apiRequestBytesMax, apiShutdownGraceMs } from '../../federation/limits.js';
import * as queries from '../../federation/queries.js';
import { requireExpertRef, requireTime, validateEntityProfile, validateSanctionIssue, validateSanctionLift } from '../../federation/records/validate.js';
import { checkUscc } from '../../federation/records/uscc.js';
import type { Replica } from '../../federation/replica.js';
import { entityKey } from '../../federation/views/entity.js';
import { compareProvenance, decodeView, type Provenance } from '../../federation/views/provenance.js';
import { sanctionKey, type SanctionView } from '../../federation/views/sanction.js';

// The client API of one node (EntityService, SanctionService, NodeService):
// trading platforms and the CLI call it on their own node. Insecure gRPC: it
// listens on the trading center's internal network, never between members.
// Reads answer from the local store; writes append to this node's own log and
// answer once the record is durable.

export interface ApiServerInit {
  /** host:port; port 0 picks a free one (see ApiServer.port). */
  readonly listen: string;
}

export interface ApiServerComponents {
  readonly replica: Replica;
  readonly clock: { nowMs(): number };
  /** A sanctions check fails closed (unknown-stale) when a member's newest head is older than this. */
  readonly freshnessBudgetMs: number;
  /** This node's city, as GetStatus reports it. */
  readonly city: string;
  readonly allianceId: Buffer;
  /** Unix ms when the node process started, for GetStatus uptime. */
  readonly startedAtMs: number;
}

export interface ApiServer {
  /** The bound port (the chosen one when `listen` asked for port 0). */
  readonly port: number;
  /** Refuses new calls, lets in-flight ones finish for up to apiShutdownGraceMs, then cancels them. Idempotent. */
  stop(): Promise<void>;
}

/** A well-formed request that this node's state refuses: the record already exists here. */
export class AlreadyExistsError extends TongxingError {
  override name = 'AlreadyExistsError';
}

/** A request about something this node does not hold (e.g. a sanction it did not issue). */
export class NotFoundError extends TongxingError {
  override name = 'NotFoundError';
}

/** A request that cannot apply in the current state (e.g. lifting a sanction already lifted). */
export class PreconditionError extends TongxingError {
  override name = 'PreconditionError';
}

/**
 * The one place errors become gRPC statuses. Details of typed errors are their
 * message ("field: reason" for a ValidationError); anything untyped is a bug
 * or a broken environment and is INTERNAL.
 */
export function statusOf(error: unknown): { code: status; details: string } {
  if (error instanceof ValidationError || error instanceof EncodingError) return { code: status.INVALID_ARGUMENT, details: error.message };
  if (error instanceof LimitError) return { code: status.RESOURCE_EXHAUSTED, details: error.message };
  if (error instanceof AlreadyExistsError) return { code: status.ALREADY_EXISTS, details: error.message };
  if (error instanceof NotFoundError) return { code: status.NOT_FOUND, details: error.message };
  if (error instanceof PreconditionError) return { code: status.FAILED_PRECONDITION, details: error.message };
  const { name, message } = error instanceof Error ? error : { name: 'Error', message: String(error) };
  return { code: status.INTERNAL, details: `${name}: ${message}` };
}

function toServiceError(error: unknown): ServerErrorResponse {
  const { code, details } = statusOf(error);
  return Object.assign(new Error(details), { code, details });
}

function unary<Request, Response>(handler: (request: Request) => Promise<Response>): handleUnaryCall<Request, Response> {
  return (call, callback) => {
    handler(call.request).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toServiceError(error)),
    );
  };
}

/**
 * Runs tasks one after another per key, so a check ("not issued yet") and the
 * write it guards cannot interleave with another request for the same record.
 * Different keys run concurrently (and group-commit under one head).
 */
class KeyedSerial {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const run = (this.#tails.get(key) ?? Promise.resolve()).then(task);
    const tail = run.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return run;
  }
}

const verdicts: Record<queries.Verdict, Verdict> = {
  clear: Verdict.VERDICT_CLEAR,
  restricted: Verdict.VERDICT_RESTRICTED,
  'unknown-stale': Verdict.VERDICT_UNKNOWN_STALE,
};

/** The three client API services over one replica. Exported for tests that skip the socket. */
export function apiHandlers(c: ApiServerComponents): { entity: EntityServiceServer; sanction: SanctionServiceServer; node: NodeServiceServer } {
  const { replica, clock } = c;
  const serial = new KeyedSerial();
  const cityOf = (nodeId: string): string => replica.members.get(nodeId)?.city ?? '';
  const provenance = (p: Provenance): ApiProvenance => ({
    author: Buffer.from(p.author, 'hex'),
    authorCity: cityOf(p.author),
    seq: BigInt(p.seq),
    hlc: BigInt(p.hlc),
  });
  const describe = (nodeId: string): string => `${cityOf(nodeId) || 'unknown member'} (${nodeId.slice(0, 12)})`;

  async function registerEntity(request: RegisterEntityRequest): Promise<RegisterEntityResponse> {
    const profile = request.profile;
    validateEntityProfile(profile, 'profile');
    return serial.run(entityKey(profile!.uscc), async () => {
      const existing = await queries.getEntity(replica, profile!.uscc);
      if (existing && existing.home.author !== replica.nodeId) {
        throw new AlreadyExistsError(
          `profile.uscc: ${profile!.uscc} is already registered; its home node is ${describe(existing.home.author)}, ` +
            'and only the home node registers or updates it',
        );
      }
      if (existing) {
        // Registered here already: a retry of the same registration gets the original answer.
        const same = compareProvenance(existing.latest, existing.home) === 0 && Buffer.from(EntityProfile.encode(existing.profile).finish()).equals(EntityProfile.encode(profile!).finish());
        if (same) return { provenance: provenance(existing.home) };
        throw new AlreadyExistsError(
          `profile.uscc: ${profile!.uscc} is already registered at this node (log seq ${existing.home.seq}); change its profile with an entity update`,
        );
      }
      const written = await replica.write({ kind: { $case: 'entityRegistration', value: { profile: profile! } } });
      return { provenance: provenance(written) };
    });
  }

  async function getEntity(request: GetEntityRequest): Promise<GetEntityResponse> {
    // Codes that fail only their check characters may be registered with an override, so they are looked up.
    if (request.uscc === '') throw new ValidationError('uscc', 'missing');
    const checked = checkUscc(request.uscc);
    if (!checked.valid && !checked.overridable) throw new ValidationError('uscc', checked.reason);
    const entity = await queries.getEntity(replica, request.uscc);
    if (!entity) return { found: false, profile: undefined, home: undefined, latest: undefined, observations: [] };
    return {
      found: true,
      profile: entity.profile,
      home: provenance(entity.home),
      latest: provenance(entity.latest),
      observations: entity.observations.map(provenance),
    };
  }

  async function issueSanction(request: IssueSanctionRequest): Promise<IssueSanctionResponse> {
    const sanction = request.sanction;
    if (!sanction) throw new ValidationError('sanction', 'missing');
    validateSanctionIssue(sanction, 'sanction');
    const key = sanctionKey(replica.nodeId, sanction.sanctionId);
    return serial.run(key, async () => {
      if ((await replica.store.getState(key)) !== undefined) {
        throw new AlreadyExistsError(`sanction.sanctionId: this node already issued a sanction with id ${JSON.stringify(sanction.sanctionId)}`);
      }
      const written = await replica.write({ kind: { $case: 'sanctionIssue', value: sanction } });
      return { provenance: provenance(written) };
    });
  }

  async function liftSanction(request: LiftSanctionRequest): Promise<LiftSanctionResponse> {
    if (!request.lift) throw new ValidationError('lift', 'missing');
    // effective_at_ms 0 means "now", by this node's clock, like at_ms of a check.
    const lift = request.lift.effectiveAtMs === 0n ? { ...request.lift, effectiveAtMs: BigInt(clock.nowMs()) } : request.lift;
    validateSanctionLift(lift, 'lift');
    const key = sanctionKey(replica.nodeId, lift.sanctionId);
    return serial.run(key, async () => {
      const view = decodeView<SanctionView>(await replica.store.getState(key));
      if (!view) {
        throw new NotFoundError(
          `lift.sanctionId: this node issued no sanction with id ${JSON.stringify(lift.sanctionId)}; only the issuing node lifts its sanction`,
        );
      }
      if (view.lift) {
        throw new PreconditionError(`lift.sanctionId: sanction ${JSON.stringify(lift.sanctionId)} is already lifted (log seq ${view.lift.lifted.seq})`);
      }
      const written = await replica.write({ kind: { $case: 'sanctionLift', value: lift } });
      return { provenance: provenance(written) };
    });
  }

  async function checkSanctions(request: CheckSanctionsRequest): Promise<CheckSanctionsResponse> {
    let subject: string;
    if (request.uscc !== '' && request.expertRef !== '') throw new ValidationError('expertRef', 'set exactly one of uscc and expertRef, not both');
    if (request.uscc !== '') {
      const checked = checkUscc(request.uscc);
      if (!checked.valid) throw new ValidationError('uscc', checked.reason);
      subject = `uscc:${request.uscc}`;
    } else if (request.expertRef !== '') {
      requireExpertRef(request.expertRef, 'expertRef');
      subject = `expert:${request.expertRef}`;
    } else {
      throw new ValidationError('uscc', 'missing: set exactly one of uscc and expertRef');
    }
    const nowMs = clock.nowMs();
    if (request.atMs !== 0n) requireTime(request.atMs, 'atMs');
    const atMs = request.atMs === 0n ? nowMs : Number(request.atMs);
    const check = await queries.checkSanctions(replica, subject, atMs, nowMs, c.freshnessBudgetMs);
    return {
      verdict: verdicts[check.verdict],
      sanctions: check.sanctions.map((s) => ({ sanction: s.issue, issued: provenance(s.issued), quarantined: s.quarantined })),
      freshness: check.freshness.map((f) => ({
        nodeId: Buffer.from(f.nodeId, 'hex'),
        city: cityOf(f.nodeId),
        seq: BigInt(f.storedSeq),
        ageMs: f.ageMs === undefined ? -1n : BigInt(f.ageMs),
        stale: f.stale,
      })),
      atMs: BigInt(check.atMs),
      freshnessBudgetMs: BigInt(c.freshnessBudgetMs),
    };
  }

  async function getStatus(): Promise<GetStatusResponse> {
    const nowMs = clock.nowMs();
    const logs = replica.logs();
    return {
      nodeId: Buffer.from(replica.nodeId, 'hex'),
      city: c.city,
      allianceId: c.allianceId,
      members: logs.map((log) => ({
        nodeId: Buffer.from(log.nodeId, 'hex'),
        city: cityOf(log.nodeId),
        regionCode: replica.members.get(log.nodeId)?.regionCode ?? '',
        storedSeq: BigInt(log.storedSeq),
        knownSeq: BigInt(Math.max(log.knownSeq, log.storedSeq)),
        headAgeMs: log.signedAtMs === undefined ? -1n : BigInt(Math.max(0, nowMs - log.signedAtMs)),
        lastContactMs: BigInt(log.lastContactMs ?? 0),
        equivocated: log.equivocated,
        self: log.nodeId === replica.nodeId,
      })),
      entriesStored: BigInt(logs.reduce((sum, log) => sum + log.storedSeq, 0)),
      uptimeMs: BigInt(Math.max(0, nowMs - c.startedAtMs)),
    };
  }

  return {
    entity: { registerEntity: unary(registerEntity), getEntity: unary(getEntity) },
    sanction: { issueSanction: unary(issueSanction), liftSanction: unary(liftSanction), checkSanctions: unary(checkSanctions) },
    node: { getStatus: unary(getStatus) },
  };
}

/** Binds the client API on `init.listen`; rejects when the address cannot be bound. */
export async function startApiServer(init: ApiServerInit, components: ApiServerComponents): Promise<ApiServer> {
  const server = new Server({ 'grpc.max_receive_message_length': apiRequestBytesMax });
  const handlers = apiHandlers(components);
  server.addService(EntityServiceService, handlers.entity);
  server.addService(SanctionServiceService, handlers.sanction);
  server.addService(NodeServiceService, handlers.node);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(init.listen, ServerCredentials.createInsecure(), (error, bound) => {
      if (error) reject(new TongxingError(`client API cannot listen on ${init.listen}: ${error.message}`));
      else resolve(bound);
    });
  });
  let stopped: Promise<void> | undefined;
  return {
    port,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, apiShutdownGraceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return stopped;
    },
  };
}
