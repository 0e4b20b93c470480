// The peer calls of node/peer/{client,server}.ts over the simulated network:
// a PeerTransport for the replica (client side) and the PeerService handlers
// (server side), with the same limits: a unary deadline of peerCallTimeoutMs,
// pull streams that may stay silent pullIdleTimeoutMs, and the pull rules of
// federation/pulls.ts (slots per peer, the bounds of a pulled chunk).
//
// Peer calls run over TCP in the deployment, so a lost packet delays a call
// instead of losing it: a request that gets no response is sent again after
// a retransmission timeout that doubles each time (TCP's RTO; 200 ms minimum
// in Linux), until the call's deadline. Servers answer repeats idempotently
// (an exchange may be learned twice; a pull chunk is re-sent from the
// session). A pull stream is modelled as one request per chunk: the server
// reads one chunk ahead, so a pull of one chunk takes one round trip as on a
// real stream; longer pulls pay a round trip per chunk (gRPC would pipeline them).

import type { Announcement, ExchangeHeadsRequest, ExchangeHeadsResponse, PullEntriesRequest, PullEntriesResponse } from '../gen/tongxing/federation/v1/peer.js';
import { ChainError, TongxingError, UnreachableError } from '../federation/errors.js';
import { peerCallTimeoutMs, pullIdleTimeoutMs } from '../federation/limits.js';
import { checkPulledEntries, PullSlots, PullsServed } from '../federation/pulls.js';
import type { PeerTransport } from '../federation/replica.js';
import type { Network, NodeId, Reply, VirtualTimers } from './core/index.js';
import { messageBytes, type PeerMessage } from './wire.js';

/** First retransmission timeout of a peer call; doubles per retry (Linux TCP's minimum RTO is 200 ms). */
export const retransmitTimeoutMs = 250;

/** Completed pull streams a server keeps per caller, to answer a repeated last request. */
export const finishedStreamsPerCallerMax = 8;

/**
 * A peer call that did not complete (no response by its deadline, or refused
 * by the peer). An UnreachableError, like node/peer/client.ts's PeerCallError,
 * so the replica does not count it as the peer's misbehaviour.
 */
export class SimCallError extends UnreachableError {
  override name = 'SimCallError';
  constructor(
    readonly peer: NodeId,
    message: string,
  ) {
    super(`${peer.slice(0, 12)}: ${message}`);
  }
}

export interface RpcStats {
  calls: number;
  /** Requests sent, first tries and retransmissions. */
  attempts: number;
  /** Calls that reached their deadline without a response. */
  failures: number;
}

export interface TransportStats {
  exchange: RpcStats;
  pull: RpcStats;
  /** Pull streams opened by clients. */
  pullStreams: number;
  /** Pull streams a server refused (pullsInFlightPerPeerMax). */
  pullsRefused: number;
}

export function emptyTransportStats(): TransportStats {
  return { exchange: { calls: 0, attempts: 0, failures: 0 }, pull: { calls: 0, attempts: 0, failures: 0 }, pullStreams: 0, pullsRefused: 0 };
}

export interface TransportComponents {
  readonly self: NodeId;
  readonly network: Network<PeerMessage>;
  /** This node's timers (paused with it, cleared by a crash). */
  readonly timers: VirtualTimers;
  readonly stats: TransportStats;
  announce(announcement: Announcement): void;
}

/** The replica's outbound peer calls, one instance per node incarnation. */
export class SimTransport implements PeerTransport {
  readonly #c: TransportComponents;
  readonly #pullSlots = new PullSlots();
  #streamsNext = 1;
  /** Pull streams open now, waiting ones included (the invariant bounds it). */
  pullsOpen = 0;

  constructor(components: TransportComponents) {
    this.#c = components;
  }

  async exchangeHeads(peer: NodeId, request: ExchangeHeadsRequest): Promise<ExchangeHeadsResponse> {
    const response = await this.#call(peer, { kind: 'exchange', request }, peerCallTimeoutMs, this.#c.stats.exchange);
    if (response.kind === 'exchange-ok') return response.response;
    throw this.#refused(peer, response);
  }

  pullEntries(peer: NodeId, request: PullEntriesRequest): AsyncIterable<PullEntriesResponse> {
    return this.#pull(peer, request);
  }

  announce(announcement: Announcement): void {
    this.#c.announce(announcement);
  }

  async *#pull(peer: NodeId, request: PullEntriesRequest): AsyncGenerator<PullEntriesResponse> {
    this.pullsOpen++;
    let acquired = false;
    const stream = this.#streamsNext++;
    let finished = false;
    try {
      acquired = await this.#pullSlots.acquire(peer); // never closed: a crash drops the whole incarnation
      this.#c.stats.pullStreams++;
      for (let index = 0; ; index++) {
        const message: PeerMessage = { kind: 'pull', stream, index, request: index === 0 ? request : undefined };
        const response = await this.#call(peer, message, pullIdleTimeoutMs, this.#c.stats.pull);
        if (response.kind !== 'pull-chunk') throw this.#refused(peer, response);
        if (response.stream !== stream || response.index !== index) throw new ChainError(`pull stream ${stream}: got chunk ${response.index} of stream ${response.stream}`);
        const chunk = response.chunk;
        if (chunk !== undefined) checkPulledEntries(chunk.entries);
        if (!response.more) finished = true;
        if (chunk !== undefined) yield chunk;
        if (finished) return;
      }
    } finally {
      if (acquired) {
        if (!finished) this.#c.network.send(this.#c.self, peer, { kind: 'pull-cancel', stream }, 40);
        this.#pullSlots.release(peer);
      }
      this.pullsOpen--;
    }
  }

  /**
   * Sends `message` and resolves with the response; resends after each
   * retransmission timeout (doubling) until `deadlineMs` has passed, then
   * rejects with SimCallError. Never resolves if this node crashes first.
   */
  #call(peer: NodeId, message: PeerMessage, deadlineMs: number, stats: RpcStats): Promise<PeerMessage> {
    const { network, timers, self } = this.#c;
    stats.calls++;
    const bytes = messageBytes(message);
    const giveUpAtMs = timers.nowMs() + deadlineMs;
    return new Promise((resolve, reject) => {
      let settled = false;
      let waitMs = retransmitTimeoutMs;
      const attempt = (): void => {
        const remainingMs = giveUpAtMs - timers.nowMs();
        if (remainingMs <= 0) {
          settled = true;
          stats.failures++;
          reject(new SimCallError(peer, `no response within ${deadlineMs} ms`));
          return;
        }
        const timeoutMs = Math.min(waitMs, remainingMs);
        waitMs *= 2;
        stats.attempts++;
        network.call(self, peer, message, bytes, timeoutMs, (result) => {
          if (settled) return;
          if (result.ok) {
            settled = true;
            resolve(result.response);
          } else {
            attempt();
          }
        });
      };
      attempt();
    });
  }

  #refused(peer: NodeId, response: PeerMessage): Error {
    if (response.kind === 'error') return new SimCallError(peer, `${response.name}: ${response.message}`);
    return new ChainError(`unexpected ${response.kind} message from ${peer.slice(0, 12)}`);
  }

}

/** The replica methods the server calls (a Replica, or a Byzantine stand-in). */
export interface PeerHandler {
  handleExchangeHeads(from: string, request: ExchangeHeadsRequest): Promise<ExchangeHeadsResponse>;
  servePull(from: string, request: PullEntriesRequest): AsyncGenerator<PullEntriesResponse>;
}

interface PullSession {
  readonly caller: NodeId;
  readonly stream: number;
  readonly source: AsyncGenerator<PullEntriesResponse>;
  /** Index of the last chunk answered (-1 before the first). */
  index: number;
  last: PeerMessage | undefined;
  /** The chunk after `last`, read ahead to know whether there is one; or the handler's failure, answered after the chunks before it (as a stream would). */
  ahead: IteratorResult<PullEntriesResponse> | { readonly failed: unknown } | undefined;
  finished: boolean;
  /** Serialises requests of one stream (a retransmission may arrive while the original is being read). */
  queue: Promise<unknown>;
  idleTimer: number | undefined;
}

export interface ServerComponents {
  readonly self: NodeId;
  readonly timers: VirtualTimers;
  readonly stats: TransportStats;
  readonly handler: PeerHandler;
  /** A handler threw something other than a TongxingError: a bug, which fails the run. */
  fail(error: unknown): void;
}

/** The PeerService of one node incarnation: answers exchanges and serves pull streams from sessions. */
export class SimPeerServer {
  readonly #c: ServerComponents;
  readonly #sessions = new Map<string, PullSession>();
  readonly #pullsServed = new PullsServed();
  readonly #finishedByCaller = new Map<NodeId, string[]>();

  constructor(components: ServerComponents) {
    this.#c = components;
  }

  /** Pull sessions held now, finished ones included (bounded per caller). */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** The request handler for the network; replies once, or never for a call it drops. */
  async onRequest(from: NodeId, request: PeerMessage, reply: Reply<PeerMessage>): Promise<void> {
    switch (request.kind) {
      case 'exchange':
        return this.#exchange(from, request.request, reply);
      case 'pull':
        return this.#pull(from, request.stream, request.index, request.request, reply);
      default:
        return respond(reply, { kind: 'error', name: 'ValidationError', message: `unexpected ${request.kind} request` });
    }
  }

  /** One-way messages addressed to the server. */
  onCancel(from: NodeId, stream: number): void {
    const session = this.#sessions.get(sessionKey(from, stream));
    if (session !== undefined) this.#close(session);
  }

  async #exchange(from: NodeId, request: ExchangeHeadsRequest, reply: Reply<PeerMessage>): Promise<void> {
    let response: ExchangeHeadsResponse;
    try {
      response = await this.#c.handler.handleExchangeHeads(from, request);
    } catch (error) {
      return respond(reply, this.#errorMessage(error));
    }
    respond(reply, { kind: 'exchange-ok', response });
  }

  async #pull(from: NodeId, stream: number, index: number, request: PullEntriesRequest | undefined, reply: Reply<PeerMessage>): Promise<void> {
    const key = sessionKey(from, stream);
    let session = this.#sessions.get(key);
    if (session === undefined) {
      if (index !== 0 || request === undefined) return respond(reply, { kind: 'error', name: 'ValidationError', message: `no pull stream ${stream}` });
      try {
        this.#pullsServed.admit(from);
      } catch (error) {
        this.#c.stats.pullsRefused++;
        return respond(reply, this.#errorMessage(error));
      }
      let source: AsyncGenerator<PullEntriesResponse>;
      try {
        source = this.#c.handler.servePull(from, request);
      } catch (error) {
        this.#pullsServed.release(from);
        return respond(reply, this.#errorMessage(error));
      }
      session = { caller: from, stream, source, index: -1, last: undefined, ahead: undefined, finished: false, queue: Promise.resolve(), idleTimer: undefined };
      this.#sessions.set(key, session);
    }
    const current = session;
    const run = current.queue.then(() => this.#answer(current, index, reply));
    current.queue = run.catch(() => undefined);
    await run;
  }

  async #answer(session: PullSession, index: number, reply: Reply<PeerMessage>): Promise<void> {
    this.#armIdle(session);
    if (index === session.index && session.last !== undefined) return respond(reply, session.last);
    if (index !== session.index + 1 || session.finished) {
      return respond(reply, { kind: 'error', name: 'ValidationError', message: `pull stream ${session.stream}: chunk ${index} out of order` });
    }
    let message: PeerMessage;
    try {
      if (session.ahead !== undefined && 'failed' in session.ahead) throw session.ahead.failed;
      const current = session.ahead ?? (await session.source.next());
      let ahead: NonNullable<PullSession['ahead']> = current;
      if (!current.done) {
        try {
          ahead = await session.source.next();
        } catch (failed) {
          ahead = { failed };
        }
      }
      session.ahead = ahead;
      const more = 'failed' in ahead || !ahead.done;
      message = { kind: 'pull-chunk', stream: session.stream, index, chunk: current.done ? undefined : current.value, more };
      if (!more) this.#finish(session);
    } catch (error) {
      message = this.#errorMessage(error);
      this.#finish(session);
    }
    session.index = index;
    session.last = message;
    respond(reply, message);
  }

  /** What the gRPC edge would turn into a status (node/error-table.ts statusOf): expected errors keep their name; anything else is a bug. */
  #errorMessage(error: unknown): PeerMessage {
    if (error instanceof TongxingError) return { kind: 'error', name: error.name, message: error.message };
    this.#c.fail(error);
    return { kind: 'error', name: 'Internal', message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }

  #armIdle(session: PullSession): void {
    this.#c.timers.clearTimeout(session.idleTimer);
    session.idleTimer = this.#c.timers.setTimeout(() => this.#close(session), pullIdleTimeoutMs);
  }

  /** The stream ended: it no longer counts against the caller, but stays to answer a repeated last request. */
  #finish(session: PullSession): void {
    if (session.finished) return;
    session.finished = true;
    this.#pullsServed.release(session.caller);
    const finished = this.#finishedByCaller.get(session.caller) ?? [];
    finished.push(sessionKey(session.caller, session.stream));
    if (finished.length > finishedStreamsPerCallerMax) {
      const oldest = this.#sessions.get(finished.shift()!);
      if (oldest !== undefined) this.#close(oldest);
    }
    this.#finishedByCaller.set(session.caller, finished);
  }

  #close(session: PullSession): void {
    const key = sessionKey(session.caller, session.stream);
    if (this.#sessions.get(key) !== session) return;
    this.#sessions.delete(key);
    this.#c.timers.clearTimeout(session.idleTimer);
    if (!session.finished) {
      session.finished = true;
      this.#pullsServed.release(session.caller);
      void session.source.return(undefined).catch(() => undefined);
    } else {
      const finished = this.#finishedByCaller.get(session.caller);
      if (finished !== undefined) {
        const at = finished.indexOf(key);
        if (at >= 0) finished.splice(at, 1);
        if (finished.length === 0) this.#finishedByCaller.delete(session.caller);
      }
    }
  }
}

function sessionKey(caller: NodeId, stream: number): string {
  return `${caller}/${stream}`;
}

function respond(reply: Reply<PeerMessage>, message: PeerMessage): void {
  reply(message, messageBytes(message));
}
