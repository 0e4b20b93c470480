import type { ServiceDefinition } from '@grpc/grpc-js';
import type { Provenance as ApiProvenance } from '../../gen/tongxing/api/v1/api.js';
import type { Genesis } from '../../gen/tongxing/records/v1/records.js';
import type { Caller } from '../access/guard.js';
import type { EvidenceSigner } from '../../federation/evidence.js';
import type { Replica } from '../../federation/replica.js';
import type { ViewPolicy } from '../../federation/views/policy.js';
import type { Provenance } from '../../federation/views/provenance.js';
import type { EvaluationApiComponents } from './experts-runtime.js';
import type { NodeOperations } from './node-status.js';

// What every client API service shares: the node it answers for, and the
// shape of a service: a definition (generated from proto/) and plain async
// handlers, so the same handlers serve gRPC (server.ts) and HTTP/JSON. Their
// errors become statuses in node/error-table.ts.

/** What the client API answers from: this node's replica and clock, and facts about the node. */
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
  /** What a running node adds to GetStatus (link state, ingest rate, store size, breaches) and Backup; absent in tests of the API alone. */
  readonly operations?: NodeOperations;
  /** The expert feature's private store, lease desk and lease client (node/api/experts-runtime.ts); defaults serve this node's experts only. */
  readonly evaluation?: EvaluationApiComponents;
  /** This node's SM2 key, to sign evidence bundles; without it a check with evidence is refused (FAILED_PRECONDITION). */
  readonly signer?: EvidenceSigner;
  /** The alliance's genesis as signed, for membership snapshots. */
  readonly genesis?: Genesis;
  /**
   * The same policy the replica's views use: recording a certificate or CRL is
   * refused up front when its CA is not trusted now, and logins are refused once
   * the alliance no longer trusts a certificate's root. Default openPolicy (no CA trusted).
   */
  readonly policy?: ViewPolicy;
}

/** One unary method: request in, response out; errors are typed (see node/error-table.ts). `caller` is who the access guard admitted. */
export type UnaryHandler = (request: any, caller: Caller) => Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * One server-streaming method: request in, responses out in order. The
 * server pulls the next response only when the client can take it, and stops
 * pulling (calling the iterator's return) when the call is cancelled; a throw
 * ends the call with the error's status (node/error-table.ts).
 */
export type StreamHandler = (request: any, caller: Caller) => AsyncIterable<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A client API service: its generated definition and a handler per method (keys as in the definition). */
export interface ApiService {
  readonly definition: ServiceDefinition;
  readonly handlers: Readonly<Record<string, UnaryHandler>>;
  /** Server-streaming methods, keyed like `handlers`. */
  readonly streams?: Readonly<Record<string, StreamHandler>>;
}

/**
 * Runs tasks one after another per key, so a check ("not issued yet") and the
 * write it guards cannot interleave with another request for the same record.
 * Different keys run concurrently (and group-commit under one head).
 */
export class KeyedSerial {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.runAll([key], task);
  }

  /**
   * Runs `task` once every earlier task on any of `keys` has settled, and
   * before any later one on them starts. All keys are taken at once, at the
   * call, so two callers holding several keys cannot deadlock.
   */
  runAll<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const unique = [...new Set(keys)];
    const before = unique.map((key) => this.#tails.get(key)).filter((tail) => tail !== undefined);
    const run = (before.length === 0 ? Promise.resolve() : before.length === 1 ? before[0]! : Promise.all(before)).then(task);
    const tail = run.catch(() => undefined);
    for (const key of unique) this.#tails.set(key, tail);
    void tail.then(() => {
      for (const key of unique) if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return run;
  }
}

/** Helpers every service uses to describe members and provenance the same way. */
export interface ApiContext extends ApiServerComponents {
  cityOf(nodeId: string): string;
  /** "Kunming (3f2a…)" for messages. */
  describe(nodeId: string): string;
  provenance(p: Provenance): ApiProvenance;
  /** One KeyedSerial for the whole API, so services guarding the same record serialise together. */
  readonly serial: KeyedSerial;
}

export function apiContext(components: ApiServerComponents): ApiContext {
  const cityOf = (nodeId: string): string => components.replica.members.get(nodeId)?.city ?? '';
  return {
    ...components,
    cityOf,
    describe: (nodeId) => `${cityOf(nodeId) || 'unknown member'} (${nodeId.slice(0, 12)})`,
    provenance: (p) => ({ author: Buffer.from(p.author, 'hex'), authorCity: cityOf(p.author), seq: BigInt(p.seq), hlc: BigInt(p.hlc) }),
    serial: new KeyedSerial(),
  };
}
