import { SignatureError } from '../errors.js';

/**
 * Runs `verify` with each key that may have signed a head of one author, in
 * order (its current key first, then keys rotated away but still valid at
 * the head's hlc: Membership.keysFor), and returns the first key that
 * verifies with its result. Only a SignatureError moves on to the next key;
 * when none verifies, the current key's error is thrown.
 */
export function verifyWithKeys<T>(keys: readonly Uint8Array[], verify: (publicKey: Uint8Array) => T): { publicKey: Uint8Array; result: T } {
  let first: unknown;
  for (const publicKey of keys) {
    try {
      return { publicKey, result: verify(publicKey) };
    } catch (error) {
      first ??= error;
      if (!(error instanceof SignatureError)) break;
    }
  }
  throw first ?? new SignatureError('no key to verify with');
}
