import { verify } from '../../federation/crypto/sm2.js';
import { AuthenticationError, LimitError, PermissionError, ValidationError } from '../../federation/errors.js';
import { clientCallsInFlightMax, operatorCharsMax } from '../limits.js';
import type { AuditTrail } from './audit.js';
import type { AccessRegistry, Client } from './registry.js';
import { methodRules, type MethodRule, type Scope } from './scopes.js';

// The one gate every client API call passes, over gRPC and HTTP alike:
// who is calling (a pinned certificate or a token), whether the client is
// current, whether its scopes allow this method and request, its call rate
// and concurrency, the approver's signature on governance calls; then the
// audit trail. A refused call never reaches a handler, so it writes nothing.

/** What the transport knows about one call. */
export interface CallIdentity {
  readonly transport: 'grpc' | 'http';
  /** The TLS client certificate presented (DER). */
  readonly certificateDer?: Uint8Array;
  /** A bearer token (HTTP Authorization). */
  readonly token?: string;
  /** The person at the platform's screen (x-tongxing-operator). */
  readonly operator?: string;
  /** DER SM2 signature over approvalMessage(method, request bytes): governance's second factor. */
  readonly approval?: Uint8Array;
}

/** Who a handler is answering. */
export interface Caller {
  readonly client: string;
  readonly operator: string;
  readonly scopes: ReadonlySet<Scope>;
}

/** What an approver signs: the method and the exact binary request, so a signature cannot be moved to another call. */
export function approvalMessage(path: string, requestBytes: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`tongxing-approval-v1\n${path}\n`), requestBytes]);
}

/** Header and metadata names callers use (gRPC binary metadata adds -bin to the approval's). */
export const operatorHeader = 'x-tongxing-operator';
export const approvalHeader = 'x-tongxing-approval';

/** The operator header is percent-encoded UTF-8 (headers and gRPC metadata are ASCII), so 张三 travels as %E5%BC%A0%E4%B8%89. */
export function decodeOperator(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    throw new ValidationError('operator', `${operatorHeader} is not percent-encoded UTF-8`);
  }
}

export const encodeOperator = (operator: string): string => encodeURIComponent(operator);

interface Bucket {
  tokens: number;
  atMs: number;
  inFlight: number;
}

/** What an audit record of one call is made from; `client` once the caller is identified. */
interface AuditedCall {
  readonly path: string;
  readonly identity: CallIdentity;
  readonly subject: () => string;
  client?: Client;
}

/** An admitted call: finish it exactly once with its outcome (the error it failed with, or none). */
export interface Admission {
  readonly caller: Caller;
  finish(error?: unknown): Promise<void>;
}

export interface AccessGuardInit {
  readonly registry: AccessRegistry;
  readonly audit: AuditTrail;
  readonly clock?: () => number;
  /** The gRPC status name of an error (service.ts's mapping), for the audit trail. */
  readonly outcomeOf: (error: unknown) => string;
  /** Rules beyond the scope table (tests serving services of their own). */
  readonly rules?: Readonly<Record<string, MethodRule>>;
  /** A refusal's audit record could not be written (a write's failure fails the call instead): the node logs it. */
  readonly onAuditError?: (error: unknown) => void;
}

export class AccessGuard {
  readonly #registry: AccessRegistry;
  readonly #audit: AuditTrail;
  readonly #clock: () => number;
  readonly #outcomeOf: (error: unknown) => string;
  readonly #buckets = new Map<string, Bucket>();
  readonly #rules: Readonly<Record<string, MethodRule>>;
  readonly #scopeSets = new WeakMap<Client, ReadonlySet<Scope>>();
  readonly #onAuditError: (error: unknown) => void;

  constructor(init: AccessGuardInit) {
    this.#rules = { ...methodRules, ...init.rules };
    this.#onAuditError = init.onAuditError ?? (() => undefined);
    this.#registry = init.registry;
    this.#audit = init.audit;
    this.#clock = init.clock ?? Date.now;
    this.#outcomeOf = init.outcomeOf;
  }

  get registry(): AccessRegistry {
    return this.#registry;
  }

  get audit(): AuditTrail {
    return this.#audit;
  }

  /**
   * Admits one call or throws the refusal (AuthenticationError, PermissionError,
   * LimitError, ValidationError), which is audited. `requestBytes` is asked for
   * only when the method needs an approval.
   */
  admit(path: string, request: unknown, requestBytes: () => Uint8Array, identity: CallIdentity): Admission {
    const rule = this.#rules[path];
    const method = path.replace(/^\//, '');
    const subject = () => {
      try {
        return rule?.subject?.(request) ?? '';
      } catch {
        return '';
      }
    };
    const operator = identity.operator ?? '';
    const call: AuditedCall = { path, identity, subject };
    const refuse = this.#refuser(call);
    const client = this.#identify(call, refuse);
    if (operator !== '' && (operator.length > operatorCharsMax || !/^[^\p{C}]*$/u.test(operator))) {
      refuse(new ValidationError('operator', `${operatorHeader} must be at most ${operatorCharsMax} printable characters`));
    }
    if (!rule) return refuse(new PermissionError(`${method} is served to no client: it has no entry in the scope table`));
    const needed = [rule.scope, ...(rule.also?.(request) ?? [])];
    const missing = needed.filter((s) => !client.scopes.includes(s));
    if (missing.length > 0) refuse(new PermissionError(`${method} needs the scope ${missing.join(' and ')}; client ${client.name} has ${client.scopes.join(', ')}`));
    if (rule.approval) this.#checkApproval(client, path, requestBytes, identity, refuse);
    const bucket = this.#take(client, refuse);
    const caller: Caller = { client: client.name, operator, scopes: this.#scopesOf(client) };
    let finished = false;
    return {
      caller,
      finish: (error?: unknown) => {
        if (finished) return Promise.resolve();
        finished = true;
        bucket.inFlight -= 1;
        if (!rule.write && !rule.audit?.(request) && error === undefined) return Promise.resolve();
        return this.#record(call, error);
      },
    };
  }

  /**
   * Refuses (and audits) a call whose credential is missing, unknown, revoked or
   * expired, before its request is read: a transport that parses bodies asks this first.
   */
  authenticate(path: string, identity: CallIdentity): void {
    const call: AuditedCall = { path, identity, subject: () => '' };
    this.#identify(call, this.#refuser(call));
  }

  /** Runs `task` as an admitted call; a write answers only once its audit record is durable. */
  async run<T>(path: string, request: unknown, requestBytes: () => Uint8Array, identity: CallIdentity, task: (caller: Caller) => Promise<T>): Promise<T> {
    const admission = this.admit(path, request, requestBytes, identity);
    let result: T;
    try {
      result = await task(admission.caller);
    } catch (error) {
      await admission.finish(error).catch(() => undefined);
      throw error;
    }
    await admission.finish();
    return result;
  }

  #scopesOf(client: Client): ReadonlySet<Scope> {
    let set = this.#scopeSets.get(client);
    if (!set) this.#scopeSets.set(client, (set = new Set(client.scopes)));
    return set;
  }

  /** The call's audit record: 'ok' without an error, else the error's status and message. */
  #record(call: AuditedCall, error?: unknown): Promise<void> {
    return this.#audit.record({
      client: call.client?.name ?? '',
      operator: printable(call.identity.operator ?? ''),
      method: call.path.replace(/^\//, ''),
      subject: call.subject(),
      outcome: error === undefined ? 'ok' : this.#outcomeOf(error),
      detail: error === undefined ? '' : error instanceof Error ? error.message : String(error),
      transport: call.identity.transport,
    });
  }

  /** A refusal: audited (with the client once known), then thrown. */
  #refuser(call: AuditedCall): (error: Error) => never {
    return (error) => {
      this.#record(call, error).catch(this.#onAuditError);
      throw error;
    };
  }

  /** The caller's client, known to this node and current; it is set on `call` first, so a refusal for revocation or expiry is audited under its name. */
  #identify(call: AuditedCall, refuse: (error: Error) => never): Client {
    const { identity } = call;
    let client: Client;
    if (identity.certificateDer && identity.certificateDer.length > 0) {
      client = this.#registry.byCertificate(identity.certificateDer) ?? refuse(new AuthenticationError('the TLS client certificate is not registered at this node'));
    } else if (identity.token !== undefined) {
      client = this.#registry.byToken(identity.token) ?? refuse(new AuthenticationError('the bearer token is not one this node issued (mistyped, or replaced by a rotation)'));
    } else {
      client = refuse(new AuthenticationError('no credential: present a registered TLS client certificate, or (HTTP) Authorization: Bearer TOKEN'));
    }
    call.client = client;
    const inactive = this.#registry.inactive(client);
    return inactive ? refuse(new AuthenticationError(inactive)) : client;
  }

  #checkApproval(client: Client, path: string, requestBytes: () => Uint8Array, identity: CallIdentity, refuse: (error: Error) => never): void {
    if (!client.approverPublicKey) refuse(new PermissionError(`client ${client.name} has no approver key: governance calls need one (access grant --approver-key)`));
    if (!identity.approval || identity.approval.length === 0) {
      refuse(new PermissionError(`governance calls carry ${approvalHeader}: the approver's SM2 signature over the request (tongxing alliance signs it with --approver-key)`));
    }
    let valid = false;
    try {
      valid = verify(Buffer.from(client.approverPublicKey!, 'hex'), approvalMessage(path, requestBytes()), identity.approval!);
    } catch {
      valid = false;
    }
    if (!valid) refuse(new PermissionError(`${approvalHeader} does not verify under client ${client.name}'s approver key for this exact request`));
  }

  /** One call from the client's bucket (refilled at callsPerSecondMax, as deep), and one of its in-flight slots. */
  #take(client: Client, refuse: (error: Error) => never): Bucket {
    const now = this.#clock();
    let bucket = this.#buckets.get(client.name);
    if (!bucket) {
      bucket = { tokens: client.callsPerSecondMax, atMs: now, inFlight: 0 };
      this.#buckets.set(client.name, bucket);
    }
    bucket.tokens = Math.min(client.callsPerSecondMax, bucket.tokens + ((now - bucket.atMs) * client.callsPerSecondMax) / 1000);
    bucket.atMs = now;
    if (bucket.inFlight >= clientCallsInFlightMax) refuse(new LimitError(`client ${client.name} has ${bucket.inFlight} calls in flight, at most ${clientCallsInFlightMax} (clientCallsInFlightMax)`));
    if (bucket.tokens < 1) refuse(new LimitError(`client ${client.name} exceeds ${client.callsPerSecondMax} calls per second (its grant's callsPerSecondMax)`));
    bucket.tokens -= 1;
    bucket.inFlight += 1;
    return bucket;
  }
}

const printable = (text: string) => text.replace(/\p{C}/gu, '?').slice(0, operatorCharsMax);
