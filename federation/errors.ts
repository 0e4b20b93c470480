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

/** An author that is not a member (or not allowed to do what it did). */
export class MembershipError extends TongxingError {
  override name = 'MembershipError';
}

/** A configured bound was exceeded; the message says the actual numbers. */
export class LimitError extends TongxingError {
  override name = 'LimitError';
}

/** Not now: the replica is closed, or recovering its own log; the same call may succeed later. */
export class UnavailableError extends TongxingError {
  override name = 'UnavailableError';
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
