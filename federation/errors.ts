// Expected failures are typed errors with a stable `name`, so callers branch on
// kind, never on message text. Bugs are assert()ions (kept on in production).

export class TongxingError extends Error {
  override name = 'TongxingError';
}

/** Input that breaks a rule: names the field (dotted path) and the reason. */
export class ValidationError extends TongxingError {
  override name = 'ValidationError';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** Malformed key, signature or certificate encoding (PEM, DER, SPKI, PKCS#8). */
export class EncodingError extends TongxingError {
  override name = 'EncodingError';
}

/** A signature that does not verify under the key it claims. */
export class SignatureError extends TongxingError {
  override name = 'SignatureError';
}

/** A certificate that does not chain to a trusted root, is expired, or is misused. */
export class CertificateError extends TongxingError {
  override name = 'CertificateError';
}

/** Entries that do not form an SM3 hash chain up to a verified head. */
export class ChainError extends TongxingError {
  override name = 'ChainError';
}

/** The alliance's membership refuses it: an author, or this node, that is not an active member (not yet admitted, suspended, removed) or lacks the role. */
export class MembershipError extends TongxingError {
  override name = 'MembershipError';
}

/** A configured bound was exceeded; the message says the actual numbers. */
export class LimitError extends TongxingError {
  override name = 'LimitError';
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

/** A caller that is not proven: no credential, an unknown, revoked, expired, stale, replayed or mis-signed one. */
export class AuthenticationError extends TongxingError {
  override name = 'AuthenticationError';
}

/** A proven caller that may not make this call: a scope it lacks, a missing approval, a credential for another node or method, not an active member. */
export class PermissionError extends TongxingError {
  override name = 'PermissionError';
}

/** This node cannot serve the request now, through no fault of the request: closed, or its own log not yet recovered. Retrying later may succeed. */
export class UnavailableError extends TongxingError {
  override name = 'UnavailableError';
}

/**
 * A peer or node that could not be reached, or whose call did not complete:
 * network failure, timeout, closed channel. Deliberately not a TongxingError:
 * those blame their source (a replica counts a TongxingError from a peer as
 * the peer's misbehaviour), and a network failure blames no one.
 */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

/** The environment broke (the store failed: disk full, corrupt): the process must stop with this reason. Never a peer's fault. */
export class FatalError extends TongxingError {
  override name = 'FatalError';
}

export class AssertionError extends Error {
  override name = 'AssertionError';
}

/** For invariants: a failure is a bug in Tongxing, not bad input. */
export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new AssertionError(message);
}
