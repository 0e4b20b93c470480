import { createHmac, timingSafeEqual } from 'node:crypto';
import { challengeBytes } from '../../federation/certificates.js';
import { assert } from '../../federation/errors.js';
import { loginChallengesAnsweredMax, loginChallengeTtlMs } from '../limits.js';

// Login challenges that cost nothing to issue, so no caller can exhaust them.
// A challenge carries its own expiry and an HMAC under a key this process drew
// when it started: the node recognises its own challenges without keeping
// them. Only answered challenges (those whose signature was checked) are
// remembered, until they expire, so a replay is refused. A restart draws a new
// key: challenges issued before it are unknown, as before.
//
// Layout (challengeBytes = 32; the USB key signs exactly these bytes):
//   [0, 6)    expiry, Unix ms, unsigned big-endian (48 bits last until year 10889)
//   [6, 16)   random, so two challenges issued in the same millisecond differ
//   [16, 32)  HMAC-SM3(key, bytes [0, 16)), its first 16 bytes

const expiryBytes = 6;
const bodyBytes = 16;
const macBytes = challengeBytes - bodyBytes;

/**
 * What a challenge answers: `ok`, or why it is refused. `crowded`: more than
 * loginChallengesAnsweredMax challenges were answered while this one was
 * outstanding; it can no longer be told from a replay, so it counts as expired.
 */
export type ChallengeCheck = 'ok' | 'unknown' | 'used' | 'expired' | 'crowded';

export interface LoginChallengesInit {
  /** HMAC key, drawn once per process (at least 32 random bytes); challenges under another key are unknown. */
  readonly key: Uint8Array;
  readonly random: (bytes: number) => Uint8Array;
  readonly ttlMs?: number;
  readonly answeredMax?: number;
}

export class StatelessLoginChallenges {
  readonly #key: Buffer;
  readonly #random: (bytes: number) => Uint8Array;
  readonly #ttlMs: number;
  readonly #answeredMax: number;
  /** MAC (hex) of each answered challenge -> its expiry, in the order answered. */
  readonly #answered = new Map<string, number>();
  /** Every challenge expiring at or before this was answered, or may have been: refused (see ChallengeCheck). */
  #floorMs = -Infinity;

  constructor(init: LoginChallengesInit) {
    assert(init.key.length >= 32, 'a login challenge key has at least 32 bytes');
    this.#key = Buffer.from(init.key);
    this.#random = init.random;
    this.#ttlMs = init.ttlMs ?? loginChallengeTtlMs;
    this.#answeredMax = init.answeredMax ?? loginChallengesAnsweredMax;
  }

  /** A new challenge, valid until `expiresAtMs`. Keeps nothing. */
  issue(nowMs: number): { challenge: Uint8Array; expiresAtMs: number } {
    const expiresAtMs = nowMs + this.#ttlMs;
    const challenge = Buffer.alloc(challengeBytes);
    challenge.writeUIntBE(expiresAtMs, 0, expiryBytes);
    const random = this.#random(bodyBytes - expiryBytes);
    assert(random.length === bodyBytes - expiryBytes, 'random bytes of the asked length');
    challenge.set(random, expiryBytes);
    this.#mac(challenge).copy(challenge, bodyBytes);
    return { challenge, expiresAtMs };
  }

  /**
   * Checks `challenge` and, when it is `ok`, takes it: a second take of the
   * same challenge is `used` until it expires. The caller then either keeps it
   * taken (the answer's signature was checked, whatever the result) or gives
   * it back with release() (refused before the signature was looked at).
   */
  take(challenge: Uint8Array, nowMs: number): ChallengeCheck {
    if (challenge.length !== challengeBytes) return 'unknown';
    const bytes = Buffer.from(challenge.buffer, challenge.byteOffset, challenge.length);
    if (!timingSafeEqual(this.#mac(bytes), bytes.subarray(bodyBytes))) return 'unknown';
    const expiresAtMs = bytes.readUIntBE(0, expiryBytes);
    if (nowMs > expiresAtMs) return 'expired';
    const key = this.#keyOf(bytes);
    if (this.#answered.has(key)) return 'used';
    if (expiresAtMs <= this.#floorMs) return 'crowded';
    this.#forget(nowMs);
    this.#answered.set(key, expiresAtMs);
    return 'ok';
  }

  /** Gives back a challenge taken by take() whose answer was refused before its signature was checked. */
  release(challenge: Uint8Array): void {
    this.#answered.delete(this.#keyOf(Buffer.from(challenge.buffer, challenge.byteOffset, challenge.length)));
  }

  /** Answered challenges remembered now (at most answeredMax). */
  get answeredCount(): number {
    return this.#answered.size;
  }

  /** Drops expired entries at the front, then the earliest answered while at the bound, raising the floor past those. */
  #forget(nowMs: number): void {
    for (const [key, expiresAtMs] of this.#answered) {
      const expired = expiresAtMs < nowMs;
      if (!expired && this.#answered.size < this.#answeredMax) break;
      this.#answered.delete(key);
      // An expired one is refused as expired anyway (while the clock does not go back); an unexpired one must stay refused.
      if (!expired && expiresAtMs > this.#floorMs) this.#floorMs = expiresAtMs;
    }
  }

  #mac(challenge: Buffer): Buffer {
    return createHmac('sm3', this.#key).update(challenge.subarray(0, bodyBytes)).digest().subarray(0, macBytes);
  }

  #keyOf(challenge: Buffer): string {
    return challenge.subarray(bodyBytes).toString('hex');
  }
}
