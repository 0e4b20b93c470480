import { randomBytes } from 'node:crypto';
import { assert } from '../../federation/errors.js';
import { expertRefSaltBytes } from '../../federation/experts/pseudonym.js';
import { drawSeedBytes } from '../../federation/experts/shuffle.js';
import type { Store } from '../../federation/store/store.js';

// What the expert feature keeps at this node only and never replicates: the
// personal fields of the experts it is the home node of (ID card number, name,
// phone, birthday, employer name), the secret salt their refs are derived
// with, and the draw seeds of sessions it hosts until their draw reveals them.
//
// Nothing here is written to a log: peers pull logs (and gossip carries log
// entries), never derived or private state. The node's Store holds it under
// `private/`, outside `view/` (views are dropped and rebuilt after an
// equivocation; this is not derived, so it must never be). A backup must carry
// it too (node/store/backup.ts copies logs and proofs only, so far), and be
// protected like the ID card records it holds.

export interface ExpertPersonalRecord {
  readonly expertRef: string;
  readonly idCardNumber: string;
  readonly name: string;
  readonly phone: string;
  /** YYYY-MM-DD */
  readonly birthday: string;
  readonly employerName: string;
  readonly registeredAtMs: number;
}

export interface ExpertPrivateStore {
  /** The node's secret salt for expert refs, created on first use and never changed. */
  salt(): Promise<Uint8Array>;
  personal(expertRef: string): Promise<ExpertPersonalRecord | undefined>;
  putPersonal(record: ExpertPersonalRecord): Promise<void>;
  /** Several at once, in one durable write (an import's experts). */
  putPersonals(records: readonly ExpertPersonalRecord[]): Promise<void>;
  /** A hosted session's seed, kept from session creation until (and after) its draw. */
  seed(sessionId: string): Promise<Uint8Array | undefined>;
  putSeed(sessionId: string, seed: Uint8Array): Promise<void>;
}

const saltKey = 'private/expert/salt';
const personalKey = (ref: string): string => `private/expert/personal/${encodeURIComponent(ref)}`;
const seedKey = (sessionId: string): string => `private/evaluation/seed/${encodeURIComponent(sessionId)}`;

/** ExpertPrivateStore over the node's Store (state keys under `private/`). */
export class StateExpertPrivateStore implements ExpertPrivateStore {
  readonly #store: Store;
  #salt: Promise<Uint8Array> | undefined;

  constructor(store: Store) {
    this.#store = store;
  }

  salt(): Promise<Uint8Array> {
    // One promise for every caller: two first uses at once must not create two salts.
    this.#salt ??= (async () => {
      const stored = await this.#store.getState(saltKey);
      if (stored !== undefined) {
        assert(stored.length === expertRefSaltBytes, `stored expert salt is ${stored.length} bytes`);
        return stored;
      }
      const salt = randomBytes(expertRefSaltBytes);
      await this.#put(saltKey, salt);
      return salt;
    })();
    this.#salt.catch(() => (this.#salt = undefined));
    return this.#salt;
  }

  async personal(expertRef: string): Promise<ExpertPersonalRecord | undefined> {
    const bytes = await this.#store.getState(personalKey(expertRef));
    return bytes === undefined ? undefined : (JSON.parse(Buffer.from(bytes).toString('utf8')) as ExpertPersonalRecord);
  }

  putPersonal(record: ExpertPersonalRecord): Promise<void> {
    return this.#put(personalKey(record.expertRef), Buffer.from(JSON.stringify(record), 'utf8'));
  }

  putPersonals(records: readonly ExpertPersonalRecord[]): Promise<void> {
    const state = records.map((record) => ({ key: personalKey(record.expertRef), value: Buffer.from(JSON.stringify(record), 'utf8') }));
    return this.#store.commit({ entries: [], heads: [], state, durable: true });
  }

  seed(sessionId: string): Promise<Uint8Array | undefined> {
    return this.#store.getState(seedKey(sessionId));
  }

  putSeed(sessionId: string, seed: Uint8Array): Promise<void> {
    assert(seed.length === drawSeedBytes, `a draw seed is ${drawSeedBytes} bytes`);
    return this.#put(seedKey(sessionId), seed);
  }

  /** A state-only commit: no log entry, nothing any peer can pull. Durable before it resolves. */
  #put(key: string, value: Uint8Array): Promise<void> {
    return this.#store.commit({ entries: [], heads: [], state: [{ key, value }], durable: true });
  }
}
