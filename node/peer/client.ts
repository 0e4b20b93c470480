// Outbound peer calls over gRPC: the PeerTransport the replication core is
// driven through in the node process. One channel per member, opened on first
// use; every call carries a fresh credential (credential.ts). Pull streams
// are reassembled into the chunks the server split (server.ts, splitChunk)
// and handed over as received: entries stay the Buffers gRPC decoded.

import { status as Status, type Metadata, type ServiceError } from '@grpc/grpc-js';
import {
  PeerServiceClient,
  PeerServiceService,
  type Announcement,
  type ExchangeHeadsRequest,
  type ExchangeHeadsResponse,
  type PullEntriesRequest,
  type PullEntriesResponse,
} from '../../gen/tongxing/federation/v1/peer.js';
import type { Sm2KeyPair } from '../../federation/crypto/sm2.js';
import { ChainError, MembershipError, UnreachableError } from '../../federation/errors.js';
import { peerCallTimeoutMs, pullIdleTimeoutMs } from '../../federation/limits.js';
import { peerReconnectBackoffMsMax, pullWindowBytes } from '../limits.js';
import type { Membership } from '../../federation/membership.js';
import { checkPulledEntries, PullSlots } from '../../federation/pulls.js';
import type { Clock, PeerTransport } from '../../federation/replica.js';
import { CredentialIssuer, credentialMetadata, peerChannelCredentials, peerChannelOptions } from './credential.js';
import type { PeerTls } from './tls.js';

/**
 * A call that did not complete: unreachable peer, timeout, closed transport,
 * or a status the peer returned (`code`, a gRPC status). An UnreachableError,
 * so the replica does not count it as the peer's misbehaviour.
 */
export class PeerCallError extends UnreachableError {
  override name = 'PeerCallError';
  constructor(
    readonly peer: string,
    readonly code: Status,
    message: string,
  ) {
    super(`${peer.slice(0, 12)}: ${message}`);
  }
}

export interface GrpcPeerTransportInit {
  readonly allianceId: Buffer;
  readonly keyPair: Sm2KeyPair;
  /** Who may be called, at which endpoint (`endpoints[0]`, host:port). */
  readonly members: Membership;
  /** Publishes on the alliance gossip topic (the node wires libp2p here). */
  readonly announce: (announcement: Announcement) => void;
  /** Deadline of a unary call. Default peerCallTimeoutMs. */
  readonly callTimeoutMs?: number;
  /** Longest silence of a pull stream while we wait for it. Default pullIdleTimeoutMs. */
  readonly pullIdleTimeoutMs?: number;
  /** Issue time of credentials; the callee compares it with its own clock. Default wall clock. */
  readonly clock?: Clock;
  /** TLS pinned to each member's recorded certificate; plain gRPC without (tests of the protocol alone). */
  readonly tls?: PeerTls;
  /** This member's node id when its key was rotated. */
  readonly nodeId?: string;
}

const wallClock: Clock = { nowMs: () => Date.now() };

export class GrpcPeerTransport implements PeerTransport {
  readonly #init: GrpcPeerTransportInit;
  readonly #clock: Clock;
  readonly #credentials: CredentialIssuer;
  readonly #callTimeoutMs: number;
  readonly #pullIdleTimeoutMs: number;
  readonly #clients = new Map<string, PeerServiceClient>();
  readonly #pullSlots = new PullSlots();
  /** Calls in flight, cancelled by close() (closing a channel lets its calls run on). */
  readonly #calls = new Set<{ cancel(): void }>();
  #closed = false;

  constructor(init: GrpcPeerTransportInit) {
    this.#init = init;
    this.#clock = init.clock ?? wallClock;
    this.#credentials = new CredentialIssuer(init);
    this.#callTimeoutMs = init.callTimeoutMs ?? peerCallTimeoutMs;
    this.#pullIdleTimeoutMs = init.pullIdleTimeoutMs ?? pullIdleTimeoutMs;
    // An endpoint or certificate may have changed: channels are made again on next use.
    init.members.onChange(() => {
      for (const client of this.#clients.values()) client.close();
      this.#clients.clear();
    });
  }

  /** Signs credentials with `keyPair` from now on (governance rotated this member's key). */
  rekey(keyPair: Sm2KeyPair): void {
    this.#credentials.rekey(keyPair);
  }

  /** Rejects with PeerCallError (or MembershipError for a peer that is not a member). */
  async exchangeHeads(peer: string, request: ExchangeHeadsRequest): Promise<ExchangeHeadsResponse> {
    const client = this.#client(peer);
    const metadata = this.#metadata(peer, PeerServiceService.exchangeHeads.path);
    return new Promise((resolve, reject) => {
      const call = client.exchangeHeads(request, metadata, { deadline: Date.now() + this.#callTimeoutMs }, (error, response) => {
        this.#calls.delete(call);
        if (error) reject(callError(peer, error));
        else resolve(response);
      });
      this.#calls.add(call);
    });
  }

  /**
   * The chunks of one pull, each ending on a signed head. The call starts at
   * the first `next()` and is cancelled when iteration stops early. Throws
   * PeerCallError (unreachable, refused, idle for pullIdleTimeoutMs), or, for
   * a peer that breaks the framing, ChainError or LimitError.
   */
  pullEntries(peer: string, request: PullEntriesRequest): AsyncIterable<PullEntriesResponse> {
    return this.#pull(peer, request);
  }

  announce(announcement: Announcement): void {
    if (!this.#closed) this.#init.announce(announcement);
  }

  /** Cancels calls in flight and closes every channel; later calls reject. */
  close(): void {
    this.#closed = true;
    for (const call of this.#calls) call.cancel();
    this.#calls.clear();
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
    this.#pullSlots.close();
  }

  async *#pull(peer: string, request: PullEntriesRequest): AsyncGenerator<PullEntriesResponse> {
    if (!(await this.#pullSlots.acquire(peer))) throw new PeerCallError(peer, Status.CANCELLED, 'transport closed');
    try {
      const client = this.#client(peer);
      const call = client.pullEntries(request, this.#metadata(peer, PeerServiceService.pullEntries.path));
      this.#calls.add(call);
      let idle: NodeJS.Timeout | undefined;
      let idleTimedOut = false;
      const arm = (): void => {
        idle = setTimeout(() => {
          idleTimedOut = true;
          call.cancel();
        }, this.#pullIdleTimeoutMs);
      };
      try {
        // Entries of a chunk the server split across messages, until its head arrives.
        let pending: Buffer[] = [];
        arm();
        try {
          for await (const message of call as AsyncIterable<PullEntriesResponse>) {
            clearTimeout(idle);
            checkPulledEntries(message.entries, pending.length);
            if (pending.length === 0) pending = message.entries;
            else for (const entry of message.entries) pending.push(entry);
            if (message.head !== undefined) {
              const entries = pending;
              pending = [];
              yield { entries, head: message.head }; // the timer is off: storing time is not the peer's idleness
            }
            arm();
          }
        } catch (error) {
          if (idleTimedOut) throw new PeerCallError(peer, Status.DEADLINE_EXCEEDED, `pull stream silent for ${this.#pullIdleTimeoutMs} ms`);
          if (isServiceError(error)) throw callError(peer, error);
          throw error;
        }
        if (pending.length > 0) throw new ChainError(`pull stream ended inside a chunk: ${pending.length} entries without a head`);
      } finally {
        clearTimeout(idle);
        call.cancel(); // no-op once the call has ended
        this.#calls.delete(call);
      }
    } finally {
      this.#pullSlots.release(peer);
    }
  }

  #client(peer: string): PeerServiceClient {
    if (this.#closed) throw new PeerCallError(peer, Status.CANCELLED, 'transport closed');
    let client = this.#clients.get(peer);
    if (client === undefined) {
      const member = this.#init.members.get(peer);
      if (!member) throw new MembershipError(`${peer.slice(0, 12)} is not a member`);
      const endpoint = member.endpoints[0];
      if (endpoint === undefined) throw new PeerCallError(peer, Status.UNAVAILABLE, 'member has no endpoint');
      client = new PeerServiceClient(endpoint, peerChannelCredentials(member, this.#init.tls), {
        ...peerChannelOptions(this.#init.tls),
        'grpc-node.flow_control_window': pullWindowBytes,
        'grpc.max_reconnect_backoff_ms': peerReconnectBackoffMsMax,
      });
      this.#clients.set(peer, client);
    }
    return client;
  }

  #metadata(peer: string, method: string): Metadata {
    return credentialMetadata(this.#credentials.issue({ callee: peer, method, issuedAtMs: this.#clock.nowMs() }));
  }
}

function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as Partial<ServiceError>).code === 'number' && 'metadata' in error;
}

function callError(peer: string, error: ServiceError): PeerCallError {
  return new PeerCallError(peer, error.code, `${Status[error.code] ?? error.code}: ${error.details}`);
}
