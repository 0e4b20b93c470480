// A node's disk in the simulation: a MemoryStore (which survives restarts
// through reopen) behind a thin wrapper that
// - remembers whether the last commit was durable, so a restart may lose it
//   only if it was not (CommitBatch.durable false: other members' entries,
//   pulled again after a loss; a node's own log is always durable), and
// - can kill the process at a commit boundary: once armed, the k-th next
//   commit and every call after it never return, as if the process died
//   just before that write. This reaches states a crash between two events
//   cannot, e.g. a crash in the middle of a multi-commit view rebuild.

import type { SignedHead } from '../gen/tongxing/log/v1/log.js';
import type { MemoryStore } from '../federation/store/memory.js';
import type { AuthorId, CommitBatch, Store, StoredEntry } from '../federation/store/store.js';

const never = new Promise<never>(() => {});

export class SimStore implements Store {
  readonly #disk: MemoryStore;
  /** Commits left before the process dies (undefined: not armed). */
  #commitsBeforeDeath: number | undefined;
  #onDeath: (() => void) | undefined;
  #dead = false;
  /** Whether the last successful commit asked to be durable (the CommitBatch default). */
  lastCommitDurable = true;
  commits = 0;

  constructor(disk: MemoryStore) {
    this.#disk = disk;
  }

  get disk(): MemoryStore {
    return this.#disk;
  }

  get dead(): boolean {
    return this.#dead;
  }

  /** The process dies when the `commits`-th next commit is attempted (0: the very next one); `onDeath` runs then, synchronously. */
  dieAtCommit(commits: number, onDeath: () => void): void {
    this.#commitsBeforeDeath = commits;
    this.#onDeath = onDeath;
  }

  disarm(): void {
    this.#commitsBeforeDeath = undefined;
    this.#onDeath = undefined;
  }

  commit(batch: CommitBatch): Promise<void> {
    if (this.#dead) return never;
    if (this.#commitsBeforeDeath !== undefined) {
      if (this.#commitsBeforeDeath === 0) {
        this.#dead = true;
        const onDeath = this.#onDeath!;
        this.disarm();
        onDeath();
        return never;
      }
      this.#commitsBeforeDeath--;
    }
    this.commits++;
    this.lastCommitDurable = batch.durable !== false;
    return this.#disk.commit(batch);
  }

  latestHeads(): Promise<SignedHead[]> {
    return this.#dead ? never : this.#disk.latestHeads();
  }

  latestHead(author: AuthorId): Promise<SignedHead | undefined> {
    return this.#dead ? never : this.#disk.latestHead(author);
  }

  headAtOrAfter(author: AuthorId, seq: number): Promise<SignedHead | undefined> {
    return this.#dead ? never : this.#disk.headAtOrAfter(author, seq);
  }

  headAtOrBefore(author: AuthorId, seq: number): Promise<SignedHead | undefined> {
    return this.#dead ? never : this.#disk.headAtOrBefore(author, seq);
  }

  entries(author: AuthorId, fromSeq: number, toSeq: number, limit: number): Promise<StoredEntry[]> {
    return this.#dead ? never : this.#disk.entries(author, fromSeq, toSeq, limit);
  }

  getState(key: string): Promise<Uint8Array | undefined> {
    return this.#dead ? never : this.#disk.getState(key);
  }

  getStates(keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    return this.#dead ? never : this.#disk.getStates(keys);
  }

  stateRange(prefix: string, limit: number): Promise<Array<[string, Uint8Array]>> {
    return this.#dead ? never : this.#disk.stateRange(prefix, limit);
  }

  close(): Promise<void> {
    return this.#disk.close();
  }

  /**
   * The store a restarted process finds (an OS crash). `loseLastCommit` drops
   * the last commit if it was not durable: it resolved before reaching the
   * disk. A durable commit is never lost (LevelStore syncs it); losing the
   * node's own announced batch would make an honest node sign a second history.
   */
  reopen(loseLastCommit: boolean): { store: SimStore; lostCommit: boolean } {
    const lostCommit = loseLastCommit && !this.lastCommitDurable && this.commits > 0;
    this.#dead = true;
    return { store: new SimStore(this.#disk.reopen({ loseLastCommit: lostCommit })), lostCommit };
  }
}
