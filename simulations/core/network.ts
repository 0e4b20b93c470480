// Simulated network between node ids, driven by the Scheduler.
// Messages are opaque payloads with a declared size in bytes; the network never
// looks inside them.
//
// Contracts:
// - Handlers run at their delivery time, in (time, insertion) order, synchronously
//   inside the scheduler's step(); a handler never runs inside send().
// - Each message's latency is sampled independently (so messages on one link
//   reorder whenever the latency spread exceeds the gap between sends), after the
//   link's serialisation delay when it has a finite bandwidth (FIFO per link).
// - A message is dropped when, at send time or at delivery time, the link is cut
//   (partition, isolation, one-way cut); at send time, by the link's loss
//   probability or when the sender is down; at delivery time, when the receiver
//   is down or is not the incarnation that was up (or down) at send time: a
//   restarted process never sees traffic meant for its predecessor.
// - A paused receiver queues what arrives and gets it, in arrival order, when
//   resumed (late delivery, like a stopped VM); a crash discards the queue.
// - A call's callback runs exactly once (response or timeout), unless the caller
//   crashed first: then never.
// All randomness comes from the Prng given at construction, in a fixed order.

import { AssertionError, assert } from '../../federation/errors.js';
import type { Distribution, Prng } from '../../federation/testing/prng.js';
import type { EventHandle, Scheduler } from './scheduler.js';

export type NodeId = string;

/** May be async: a rejection fails the run (Scheduler.fail), as does a throw. */
export type MessageHandler<P> = (from: NodeId, payload: P) => unknown;
/** Sends the response of one request; a second call is a bug (asserted). */
export type Reply<P> = (response: P, bytes: number) => void;
/** Handles one request; may reply now, later (virtual time), or never (the caller times out). */
export type RequestHandler<P> = (from: NodeId, request: P, reply: Reply<P>) => unknown;

export type CallResult<P> = { readonly ok: true; readonly response: P; readonly bytes: number } | { readonly ok: false; readonly reason: 'timeout' };

/** A call that got no response within its timeout. */
export class CallTimeoutError extends Error {
  override name = 'CallTimeoutError';
  constructor(
    readonly from: NodeId,
    readonly to: NodeId,
    readonly timeoutMs: number,
  ) {
    super(`call from ${from} to ${to} got no response within ${timeoutMs} ms`);
  }
}

export interface LinkConfig {
  /** One-way latency, sampled per message. */
  readonly latencyMs: Distribution;
  /** Probability that a message is lost, per message. */
  readonly lossProbability: number;
  /** Probability that a delivered message is delivered a second time (its own latency). */
  readonly duplicateProbability: number;
  /** Link bandwidth; a message occupies the link for bytes / bandwidth ms. Infinity: no serialisation delay. */
  readonly bandwidthBytesPerMs: number;
}

/** Between two cities on a wide-area network: 20–60 ms one way, no loss, unlimited bandwidth. */
export const linkConfigDefault: LinkConfig = {
  latencyMs: { kind: 'uniform', min: 20, max: 60 },
  lossProbability: 0,
  duplicateProbability: 0,
  bandwidthBytesPerMs: Infinity,
};

export type DropReason = 'loss' | 'partition' | 'receiverDown' | 'senderDown' | 'noRequestHandler';

export interface NodeCounters {
  messagesSent: number;
  bytesSent: number;
  messagesReceived: number;
  bytesReceived: number;
  /** Sent by this node, never delivered. */
  messagesDroppedOutbound: number;
  bytesDroppedOutbound: number;
  /** Addressed to this node, never delivered. */
  messagesDroppedInbound: number;
  bytesDroppedInbound: number;
}

export type NodeStatus = 'up' | 'paused' | 'down';

export interface NetworkInit {
  readonly scheduler: Scheduler;
  /** The network's own stream; give it a fork (e.g. rng.fork('network')). */
  readonly rng: Prng;
  readonly linkConfig?: Partial<LinkConfig>;
  /**
   * Delivery times are rounded up to a multiple of this (default 0: exact).
   * A coarser quantum puts more events at one instant, which the scheduler's
   * 'instant' microtask drain turns into fewer drains.
   */
  readonly timeQuantumMs?: number;
}

const Kind = { Message: 0, Request: 1, Response: 2 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];

const dropReasonCode: Record<DropReason, number> = { loss: 1, partition: 2, receiverDown: 3, senderDown: 4, noRequestHandler: 5 };
const linkKeyStride = 1 << 21; // node indexes < 2^21, so from * stride + to < 2^53

interface NodeRecord<P> {
  readonly id: NodeId;
  readonly index: number;
  status: NodeStatus;
  incarnation: number;
  onMessage: MessageHandler<P> | undefined;
  onRequest: RequestHandler<P> | undefined;
  /** Partition group; two nodes talk only when equal (0 = not partitioned). */
  group: number;
  /** Outgoing link state by receiver index, created on first use. */
  readonly links: Array<LinkState | undefined>;
  readonly paused: Envelope<P>[];
  resumeHandle: EventHandle | undefined;
  linkPatch: Partial<LinkConfig> | undefined;
  readonly counters: NodeCounters;
}

interface Envelope<P> {
  readonly kind: Kind;
  readonly from: NodeRecord<P>;
  readonly to: NodeRecord<P>;
  readonly toIncarnation: number;
  readonly payload: P;
  readonly bytes: number;
  readonly callId: number;
}

interface LinkState {
  config: LinkConfig;
  configVersion: number;
  /** When the link finishes serialising what it has been given (finite bandwidth only). */
  freeAtMs: number;
}

interface PendingCall<P> {
  readonly caller: NodeRecord<P>;
  readonly callerIncarnation: number;
  readonly to: NodeId;
  readonly timeoutMs: number;
  readonly onResult: (result: CallResult<P>) => void;
  timeoutHandle: EventHandle;
}

export class Network<P> {
  /** Global drop counts by reason. */
  readonly drops: Record<DropReason, number> = { loss: 0, partition: 0, receiverDown: 0, senderDown: 0, noRequestHandler: 0 };
  messagesDuplicated = 0;
  callsTimedOut = 0;
  /** Responses that arrived after their call had timed out (or its caller crashed). */
  responsesLate = 0;

  private readonly scheduler: Scheduler;
  private readonly rng: Prng;
  private linkDefault: LinkConfig;
  private readonly nodes = new Map<NodeId, NodeRecord<P>>();
  private readonly nodeList: NodeRecord<P>[] = [];
  private readonly timeQuantumMs: number;
  private readonly linkPatches = new Map<number, Partial<LinkConfig>>();
  private configVersion = 0;
  private readonly cuts = new Set<number>();
  private groupsNext = 1;
  private readonly calls = new Map<number, PendingCall<P>>();
  private callsNext = 1;
  private readonly deliverBound = (envelope: Envelope<P>): void => this.deliver(envelope);
  private readonly timeoutBound = (callId: number): void => this.timeout(callId);

  constructor(init: NetworkInit) {
    this.scheduler = init.scheduler;
    this.rng = init.rng;
    this.linkDefault = { ...linkConfigDefault, ...init.linkConfig };
    this.timeQuantumMs = init.timeQuantumMs ?? 0;
    assert(this.timeQuantumMs >= 0, `timeQuantumMs must be >= 0, got ${this.timeQuantumMs}`);
  }

  // --- membership and node faults ---

  /** Registers (or re-registers after a crash) a node's handlers; the node is up. */
  attach(node: NodeId, onMessage: MessageHandler<P>, onRequest?: RequestHandler<P>): void {
    const record = this.record(node, true);
    assert(record.status === 'down', `attach(${node}): node is already ${record.status}; crash it first`);
    record.status = 'up';
    record.incarnation++; // what was sent while it was down is lost, not delivered to the new process
    record.onMessage = onMessage;
    record.onRequest = onRequest;
  }

  /** The node crashes: handlers unregistered, queued and in-flight messages to it lost, its pending calls forgotten. */
  crash(node: NodeId): void {
    const record = this.record(node);
    if (record.status === 'down') return;
    for (const envelope of record.paused) this.drop(envelope, 'receiverDown');
    record.paused.length = 0;
    if (record.resumeHandle !== undefined) this.scheduler.cancel(record.resumeHandle);
    record.resumeHandle = undefined;
    record.status = 'down';
    record.incarnation++;
    record.onMessage = undefined;
    record.onRequest = undefined;
    for (const [callId, call] of this.calls) {
      if (call.caller !== record) continue;
      this.scheduler.cancel(call.timeoutHandle);
      this.calls.delete(callId);
    }
  }

  /** Messages to the node queue until resume(); with durationMs, resumes by itself after that long. */
  pause(node: NodeId, durationMs?: number): void {
    const record = this.record(node);
    assert(record.status === 'up', `pause(${node}): node is ${record.status}`);
    record.status = 'paused';
    if (durationMs !== undefined) record.resumeHandle = this.scheduler.after(durationMs, () => this.resume(node));
  }

  /** Delivers everything queued while paused, now, in arrival order. */
  resume(node: NodeId): void {
    const record = this.record(node);
    if (record.status !== 'paused') return;
    if (record.resumeHandle !== undefined) this.scheduler.cancel(record.resumeHandle);
    record.resumeHandle = undefined;
    record.status = 'up';
    for (const envelope of record.paused) this.scheduler.after(0, this.deliverBound, envelope);
    record.paused.length = 0;
  }

  status(node: NodeId): NodeStatus {
    return this.record(node).status;
  }

  /** Every node ever attached, in attach order. */
  nodeIds(): NodeId[] {
    return this.nodeList.map((record) => record.id);
  }

  counters(node: NodeId): Readonly<NodeCounters> {
    return this.record(node).counters;
  }

  // --- partitions ---

  /** Splits the network: nodes talk only within their group; nodes in no group form one more group. Replaces earlier groups (not one-way cuts). */
  partition(...groups: ReadonlyArray<readonly NodeId[]>): void {
    for (const record of this.nodeList) record.group = 0;
    for (const group of groups) {
      const label = this.groupsNext++;
      for (const node of group) this.record(node).group = label;
    }
  }

  /** Cuts one node off from every other (both directions), keeping other groups. */
  isolate(node: NodeId): void {
    this.record(node).group = this.groupsNext++;
  }

  /** One-way cut: messages from `from` to `to` are dropped; `to` to `from` still flows. */
  cut(from: NodeId, to: NodeId): void {
    this.cuts.add(this.record(from).index * linkKeyStride + this.record(to).index);
  }

  uncut(from: NodeId, to: NodeId): void {
    this.cuts.delete(this.record(from).index * linkKeyStride + this.record(to).index);
  }

  /** Removes every partition, isolation and one-way cut. */
  heal(): void {
    for (const record of this.nodeList) record.group = 0;
    this.cuts.clear();
  }

  /** Whether the links allow from -> to now (ignores node status and loss). */
  connected(from: NodeId, to: NodeId): boolean {
    return !this.blocked(this.record(from), this.record(to));
  }

  // --- link configuration ---

  /** Changes the default of every link. Precedence: default < node patch (sender, then receiver) < link patch. */
  configureDefault(patch: Partial<LinkConfig>): void {
    this.linkDefault = { ...this.linkDefault, ...patch };
    this.configVersion++;
  }

  /** Changes every link from or to `node` (a slow or lossy city). */
  configureNode(node: NodeId, patch: Partial<LinkConfig> | undefined): void {
    this.record(node, true).linkPatch = patch;
    this.configVersion++;
  }

  /** Changes the one-way link from -> to; undefined removes the patch. */
  configureLink(from: NodeId, to: NodeId, patch: Partial<LinkConfig> | undefined): void {
    const key = this.record(from, true).index * linkKeyStride + this.record(to, true).index;
    if (patch === undefined) this.linkPatches.delete(key);
    else this.linkPatches.set(key, patch);
    this.configVersion++;
  }

  linkConfig(from: NodeId, to: NodeId): LinkConfig {
    return this.link(this.record(from), this.record(to)).config;
  }

  // --- traffic ---

  /** One-way message; delivered to to's onMessage after the link's delay, or dropped. */
  send(from: NodeId, to: NodeId, payload: P, bytes: number): void {
    this.transmit(Kind.Message, this.record(from), this.record(to), payload, bytes, 0);
  }

  /** Request/response: onResult runs once, with the response or after timeoutMs with a timeout. */
  call(from: NodeId, to: NodeId, request: P, bytes: number, timeoutMs: number, onResult: (result: CallResult<P>) => void): void {
    assert(timeoutMs > 0, `call timeout must be > 0 ms, got ${timeoutMs}`);
    const caller = this.record(from);
    const callId = this.callsNext++;
    const call: PendingCall<P> = { caller, callerIncarnation: caller.incarnation, to, timeoutMs, onResult, timeoutHandle: 0 };
    call.timeoutHandle = this.scheduler.after(timeoutMs, this.timeoutBound, callId);
    this.calls.set(callId, call);
    this.transmit(Kind.Request, caller, this.record(to), request, bytes, callId);
  }

  /** call() as a Promise; rejects with CallTimeoutError. Drive the scheduler with its *Async runners. */
  request(from: NodeId, to: NodeId, request: P, bytes: number, timeoutMs: number): Promise<P> {
    return new Promise((resolve, reject) => {
      this.call(from, to, request, bytes, timeoutMs, (result) => {
        if (result.ok) resolve(result.response);
        else reject(new CallTimeoutError(from, to, timeoutMs));
      });
    });
  }

  private transmit(kind: Kind, from: NodeRecord<P>, to: NodeRecord<P>, payload: P, bytes: number, callId: number): void {
    if (!(bytes >= 0)) throw new AssertionError(`message size must be >= 0 bytes, got ${bytes}`);
    const envelope: Envelope<P> = { kind, from, to, toIncarnation: to.incarnation, payload, bytes, callId };
    from.counters.messagesSent++;
    from.counters.bytesSent += bytes;
    if (from.status === 'down') return this.drop(envelope, 'senderDown');
    if (this.blocked(from, to)) return this.drop(envelope, 'partition');
    const link = this.link(from, to);
    const config = link.config;
    if (this.rng.chance(config.lossProbability)) return this.drop(envelope, 'loss');
    let departMs = this.scheduler.now;
    if (config.bandwidthBytesPerMs < Infinity) {
      departMs = Math.max(departMs, link.freeAtMs) + bytes / config.bandwidthBytesPerMs;
      link.freeAtMs = departMs;
    }
    this.scheduler.at(this.arrivalMs(departMs, config), this.deliverBound, envelope);
    if (this.rng.chance(config.duplicateProbability)) {
      this.messagesDuplicated++;
      this.scheduler.at(this.arrivalMs(departMs, config), this.deliverBound, envelope);
    }
  }

  private arrivalMs(departMs: number, config: LinkConfig): number {
    const arrivalMs = departMs + Math.max(0, this.rng.sample(config.latencyMs));
    return this.timeQuantumMs > 0 ? Math.ceil(arrivalMs / this.timeQuantumMs) * this.timeQuantumMs : arrivalMs;
  }

  private deliver(envelope: Envelope<P>): void {
    const to = envelope.to;
    if (to.status === 'down' || to.incarnation !== envelope.toIncarnation) return this.drop(envelope, 'receiverDown');
    if (this.blocked(envelope.from, to)) return this.drop(envelope, 'partition');
    if (to.status === 'paused') {
      to.paused.push(envelope);
      return;
    }
    if (envelope.kind === Kind.Request && to.onRequest === undefined) return this.drop(envelope, 'noRequestHandler');
    to.counters.messagesReceived++;
    to.counters.bytesReceived += envelope.bytes;
    const trace = this.scheduler.trace;
    trace.mixUint32(envelope.kind);
    trace.mixUint32(envelope.from.index);
    trace.mixUint32(to.index);
    trace.mixUint32(envelope.bytes);
    switch (envelope.kind) {
      case Kind.Message:
        this.scheduler.watch(to.onMessage!(envelope.from.id, envelope.payload));
        break;
      case Kind.Request:
        this.scheduler.watch(to.onRequest!(envelope.from.id, envelope.payload, this.replier(envelope)));
        break;
      case Kind.Response:
        this.respond(envelope);
        break;
    }
  }

  private replier(request: Envelope<P>): Reply<P> {
    const responder = request.to;
    const responderIncarnation = responder.incarnation;
    let replied = false;
    return (response, bytes) => {
      if (replied) throw new AssertionError(`${responder.id} replied twice to call ${request.callId}`);
      replied = true;
      if (responder.incarnation !== responderIncarnation) return; // crashed since: the reply dies with it
      this.transmit(Kind.Response, responder, request.from, response, bytes, request.callId);
    };
  }

  private respond(envelope: Envelope<P>): void {
    const call = this.calls.get(envelope.callId);
    if (call === undefined || call.callerIncarnation !== envelope.to.incarnation) {
      this.responsesLate++;
      return;
    }
    this.calls.delete(envelope.callId);
    this.scheduler.cancel(call.timeoutHandle);
    call.onResult({ ok: true, response: envelope.payload, bytes: envelope.bytes });
  }

  private timeout(callId: number): void {
    const call = this.calls.get(callId);
    if (call === undefined) return;
    this.calls.delete(callId);
    if (call.caller.status === 'down' || call.caller.incarnation !== call.callerIncarnation) return; // called while down: no one to tell
    this.callsTimedOut++;
    this.scheduler.trace.mixUint32(0xdead0000 | (call.caller.index & 0xffff));
    call.onResult({ ok: false, reason: 'timeout' });
  }

  private drop(envelope: Envelope<P>, reason: DropReason): void {
    this.drops[reason]++;
    envelope.from.counters.messagesDroppedOutbound++;
    envelope.from.counters.bytesDroppedOutbound += envelope.bytes;
    envelope.to.counters.messagesDroppedInbound++;
    envelope.to.counters.bytesDroppedInbound += envelope.bytes;
    this.scheduler.trace.mixUint32(dropReasonCode[reason]);
  }

  private blocked(from: NodeRecord<P>, to: NodeRecord<P>): boolean {
    return from.group !== to.group || (this.cuts.size > 0 && this.cuts.has(from.index * linkKeyStride + to.index));
  }

  private link(from: NodeRecord<P>, to: NodeRecord<P>): LinkState {
    let link = from.links[to.index];
    if (link === undefined) {
      link = { config: this.linkDefault, configVersion: -1, freeAtMs: 0 };
      from.links[to.index] = link;
    }
    if (link.configVersion !== this.configVersion) {
      const patch = this.linkPatches.get(from.index * linkKeyStride + to.index);
      link.config =
        from.linkPatch === undefined && to.linkPatch === undefined && patch === undefined
          ? this.linkDefault
          : { ...this.linkDefault, ...from.linkPatch, ...to.linkPatch, ...patch };
      link.configVersion = this.configVersion;
    }
    return link;
  }

  private record(node: NodeId, create = false): NodeRecord<P> {
    let record = this.nodes.get(node);
    if (record === undefined) {
      assert(create, `unknown node ${node}: attach it first`);
      assert(this.nodeList.length < linkKeyStride, `more than ${linkKeyStride} nodes`);
      record = {
        id: node,
        index: this.nodeList.length,
        status: 'down',
        incarnation: 0,
        onMessage: undefined,
        onRequest: undefined,
        group: 0,
        links: [],
        paused: [],
        resumeHandle: undefined,
        linkPatch: undefined,
        counters: {
          messagesSent: 0,
          bytesSent: 0,
          messagesReceived: 0,
          bytesReceived: 0,
          messagesDroppedOutbound: 0,
          bytesDroppedOutbound: 0,
          messagesDroppedInbound: 0,
          bytesDroppedInbound: 0,
        },
      };
      this.nodes.set(node, record);
      this.nodeList.push(record);
    }
    return record;
  }
}
