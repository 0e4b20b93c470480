// Remote evaluation between members: the lease RPC. The home node's side is a
// LeaseDesk (one per node, shared by the peer service and the node's own
// client API, so local and remote requests for one expert are decided one at
// a time); addEvaluationPeerService puts it on a peer gRPC server, each call
// authenticated like PeerService's; EvaluationPeerClient is the host's side.

import { status as Status, type Server, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import {
  EvaluationPeerServiceClient,
  EvaluationPeerServiceService,
  type EvaluationPeerServiceServer,
  type RequestLeaseRequest,
  type RequestLeaseResponse,
} from '../../gen/tongxing/federation/v1/evaluation.js';
import type { Sm2KeyPair } from '../../federation/crypto/sm2.js';
import { MembershipError, NotFoundError, PreconditionError, UnreachableError } from '../../federation/errors.js';
import { decideLease, leaseRecord, slotOf, type LeaseGrant } from '../../federation/experts/lease.js';
import { leaseCallTimeoutMs } from '../limits.js';
import type { Membership } from '../../federation/membership.js';
import { requireExpertRef, requireIdentifier, requirePeriod } from '../../federation/records/validate.js';
import type { Clock, Replica } from '../../federation/replica.js';
import { leaseKey, type LeaseView } from '../../federation/views/evaluation.js';
import { expertKey, expertStanding, resolveExpert, type ExpertView } from '../../federation/views/expert.js';
import { decodeView } from '../../federation/views/provenance.js';
import { statusOf } from '../error-table.js';
import { CredentialIssuer, credentialMetadata, peerChannelCredentials, peerChannelOptions, type CredentialVerifier } from './credential.js';
import type { PeerTls } from './tls.js';

/** The expert is not homed at the node asked: no lease decision was recorded. */
export class NotHomeNodeError extends PreconditionError {
  override name = 'NotHomeNodeError';
}

/** The node asked knows no such expert. */
export class UnknownExpertError extends NotFoundError {
  override name = 'UnknownExpertError';
}

export interface LeaseRequest {
  readonly sessionId: string;
  readonly expertRef: string;
  readonly slot: { readonly fromMs: number; readonly untilMs: number };
  readonly projectCode: string;
}

export interface LeaseAnswer {
  readonly granted: boolean;
  readonly refusalReason: string;
  /** The ExpertLease entry in the home node's log: its seq and hybrid logical clock. */
  readonly leaseSeq: number;
  readonly leaseHlc: bigint;
}

/** Runs tasks one after another per key. */
class PerKey {
  readonly #tails = new Map<string, Promise<unknown>>();
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const run = (this.#tails.get(key) ?? Promise.resolve()).then(task);
    const tail = run.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => this.#tails.get(key) === tail && this.#tails.delete(key));
    return run;
  }
}

/**
 * The home node's lease decisions. Per expert one at a time: the grants read
 * before deciding are still all the grants when the decision is written.
 * Every decision about an expert homed here (grant or refusal) is written to
 * this node's log, durably, before it is answered.
 */
export class LeaseDesk {
  readonly #replica: Replica;
  readonly #serial = new PerKey();

  constructor(replica: Replica) {
    this.#replica = replica;
  }

  /** Throws UnknownExpertError, NotHomeNodeError, or what the write throws (nothing recorded then). */
  request(host: string, request: LeaseRequest): Promise<LeaseAnswer> {
    const replica = this.#replica;
    return this.#serial.run(request.expertRef, async () => {
      const view = decodeView<ExpertView>(await replica.store.getState(expertKey(request.expertRef)));
      const standing = expertStanding(resolveExpert(view, (author) => replica.isQuarantined(author)), replica.nodeId);
      if (standing.standing === 'unregistered') throw new UnknownExpertError(`no expert ${request.expertRef} is known here`);
      if (standing.standing === 'homed-elsewhere') {
        throw new NotHomeNodeError(`expert ${request.expertRef} is homed at ${standing.home.author.slice(0, 12)}, not here: only its home node leases it`);
      }
      const { expert } = standing;
      const grants: readonly LeaseGrant[] = decodeView<LeaseView>(await replica.store.getState(leaseKey(replica.nodeId, request.expertRef)))?.grants ?? [];
      const asked = { host, sessionId: request.sessionId, slot: request.slot };
      const decision = decideLease(expert, grants, asked);
      if (decision.kind === 'existing') return { granted: true, refusalReason: '', leaseSeq: decision.grant.at.seq, leaseHlc: BigInt(decision.grant.at.hlc) };
      const refusal = decision.kind === 'refuse' ? decision.reason : undefined;
      const written = await replica.write({ kind: { $case: 'expertLease', value: leaseRecord(request.expertRef, asked, refusal) } });
      return { granted: refusal === undefined, refusalReason: refusal ?? '', leaseSeq: written.seq, leaseHlc: BigInt(written.hlc) };
    });
  }
}

function leaseRequestOf(request: RequestLeaseRequest): LeaseRequest {
  requireIdentifier(request.sessionId, 'sessionId');
  requireExpertRef(request.expertRef, 'expertRef');
  requirePeriod(request.slot, 'slot');
  return { sessionId: request.sessionId, expertRef: request.expertRef, slot: slotOf(request.slot!), projectCode: request.projectCode };
}

export interface EvaluationPeerServiceComponents {
  readonly desk: Pick<LeaseDesk, 'request'>;
  /** The peer server's verifier (or one made the same way): credential bound to this node and method, and over TLS the caller's pinned certificate. */
  readonly verifier: CredentialVerifier;
}

/**
 * Adds EvaluationPeerService to a peer gRPC server (before it is bound).
 * The caller's member id, proven by its credential, is the host the lease is for.
 */
export function addEvaluationPeerService(server: Server, components: EvaluationPeerServiceComponents): ServiceDefinition[] {
  const implementation: EvaluationPeerServiceServer = {
    requestLease: (call, callback) => {
      void (async () => {
        try {
          const host = components.verifier.verifyMetadata(call.metadata, EvaluationPeerServiceService.requestLease.path, call.getAuthContext()?.sslPeerCertificate?.raw);
          const answer = await components.desk.request(host, leaseRequestOf(call.request));
          callback(null, { granted: answer.granted, refusalReason: answer.refusalReason, leaseSeq: BigInt(answer.leaseSeq), leaseHlc: answer.leaseHlc });
        } catch (error) {
          const { code, details } = statusOf(error);
          callback(Object.assign(new Error(details), { code, details }));
        }
      })();
    },
  };
  server.addService(EvaluationPeerServiceService, implementation);
  return [EvaluationPeerServiceService];
}

/** A lease request that got no decision: unreachable, timed out, or refused by status (`code`). */
export class LeaseCallError extends UnreachableError {
  override name = 'LeaseCallError';
  constructor(
    readonly homeNode: string,
    readonly code: Status,
    message: string,
  ) {
    super(`${homeNode.slice(0, 12)}: ${message}`);
  }
}

/** How a host asks a home node; the node's own experts go to its LeaseDesk directly. */
export interface LeaseClient {
  /** Rejects with LeaseCallError when no decision came back. */
  requestLease(homeNode: string, request: LeaseRequest): Promise<LeaseAnswer>;
  close(): void;
}

export interface EvaluationPeerClientInit {
  readonly allianceId: Buffer;
  readonly keyPair: Sm2KeyPair;
  /** Who may be called, at `endpoints[0]` (the member's peer service). */
  readonly members: Membership;
  readonly clock?: Clock;
  readonly tls?: PeerTls;
  /** This member's node id when its key was rotated. */
  readonly nodeId?: string;
  readonly callTimeoutMs?: number;
}

export class EvaluationPeerClient implements LeaseClient {
  readonly #init: EvaluationPeerClientInit;
  readonly #credentials: CredentialIssuer;
  readonly #clients = new Map<string, EvaluationPeerServiceClient>();
  readonly #unsubscribe: () => void;
  #closed = false;

  constructor(init: EvaluationPeerClientInit) {
    this.#init = init;
    this.#credentials = new CredentialIssuer(init);
    // An endpoint or certificate may have changed: channels are made again on next use.
    this.#unsubscribe = init.members.onChange(() => this.#dropChannels());
  }

  /** Signs with `keyPair` from now on (after governance rotated this member's key). */
  rekey(keyPair: Sm2KeyPair): void {
    this.#credentials.rekey(keyPair);
  }

  requestLease(homeNode: string, request: LeaseRequest): Promise<LeaseAnswer> {
    const client = this.#client(homeNode);
    const path = EvaluationPeerServiceService.requestLease.path;
    const issuedAtMs = this.#init.clock?.nowMs() ?? Date.now();
    const metadata = credentialMetadata(this.#credentials.issue({ callee: homeNode, method: path, issuedAtMs }));
    const message: RequestLeaseRequest = {
      sessionId: request.sessionId,
      expertRef: request.expertRef,
      slot: { fromMs: BigInt(request.slot.fromMs), untilMs: BigInt(request.slot.untilMs) },
      projectCode: request.projectCode,
    };
    return new Promise((resolve, reject) => {
      client.requestLease(message, metadata, { deadline: Date.now() + (this.#init.callTimeoutMs ?? leaseCallTimeoutMs) }, (error: ServiceError | null, response: RequestLeaseResponse) => {
        if (error) reject(new LeaseCallError(homeNode, error.code, `${Status[error.code] ?? error.code}: ${error.details}`));
        else resolve({ granted: response.granted, refusalReason: response.refusalReason, leaseSeq: Number(response.leaseSeq), leaseHlc: response.leaseHlc });
      });
    });
  }

  close(): void {
    this.#closed = true;
    this.#unsubscribe();
    this.#dropChannels();
  }

  #dropChannels(): void {
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }

  #client(homeNode: string): EvaluationPeerServiceClient {
    if (this.#closed) throw new LeaseCallError(homeNode, Status.CANCELLED, 'client closed');
    let client = this.#clients.get(homeNode);
    if (!client) {
      const member = this.#init.members.get(homeNode);
      if (!member) throw new MembershipError(`${homeNode.slice(0, 12)} is not a member`);
      const endpoint = member.endpoints[0];
      if (endpoint === undefined) throw new LeaseCallError(homeNode, Status.UNAVAILABLE, 'member has no endpoint');
      client = new EvaluationPeerServiceClient(endpoint, peerChannelCredentials(member, this.#init.tls), {
        ...peerChannelOptions(this.#init.tls),
      });
      this.#clients.set(homeNode, client);
    }
    return client;
  }
}
