import type { Announcement } from '../../gen/tongxing/federation/v1/peer.js';
import type { SignedHead } from '../../gen/tongxing/log/v1/log.js';
import type { HashedEntry } from '../log/entry.js';
import type { Member } from '../membership.js';
import type { StateChange, StoredEntry } from '../store/store.js';

// What the replica core asks its driver to do, raft's Ready: the core decides
// synchronously and never awaits; the driver (federation/replica.ts) does the
// IO in this order and tells the core what became durable.
//
//   1. commits, in order, each made durable (views planned against the store as
//      it is after the commits before it) and then confirmed with committed();
//   2. then, and only then, announcements are sent and events reported: a head
//      is never announced before it is stored;
//   3. membership (a value) replaces the shared Membership, between commits,
//      never inside one;
//   4. views are rebuilt if asked, after the commits;
//   5. checks are answered with what the store holds (checked());
//   6. pulls are started (each pull streams chunks into pullChunk()).
// Then advance(): the Ready is done and the next one may be taken.

export type ReplicaEvent =
  | { type: 'ingested'; author: string; fromSeq: number; toSeq: number; source: 'local' | 'gossip' | 'pull' }
  | { type: 'rejected'; peer: string | undefined; reason: string }
  | { type: 'equivocation'; author: string; seq: number }
  | { type: 'pull'; peer: string; author: string; ok: boolean }
  | { type: 'epoch'; epoch: number };

/** One atomic store commit of one author's verified entries (or of the replica's own state). */
export interface Commit {
  readonly author: string;
  readonly entries: readonly StoredEntry[];
  /** Decoded entries whose records the views apply (the driver plans them against the store). */
  readonly hashed: readonly HashedEntry[];
  readonly heads: readonly SignedHead[];
  /** The replica's own state keys (proofs, the rebuild marker). */
  readonly state: readonly StateChange[];
  /** Local writes are synced to disk before their callers hear of them; ingested data can be pulled again. */
  readonly durable: boolean;
  /** This node's own batch: its records were validated as they were appended, so the views need not again. */
  readonly validated: boolean;
  /** Reported once the commit is durable. */
  readonly event?: ReplicaEvent;
}

/** A head at or below a stored tip that must be compared with the stored history. */
export interface Check {
  readonly signed: SignedHead;
}

/** Missing entries of one author to fetch: from `peers` in order (rotation: from one peer, stepping down). */
export interface PullOrder {
  readonly author: string;
  readonly peers: readonly string[];
  /** Across a key rotation this node has not learned yet: pull up to the older heads signed with known keys. */
  readonly acrossRotation?: { readonly claimedSeq: number };
}

export interface Ready {
  readonly commits: readonly Commit[];
  readonly announcements: readonly Announcement[];
  readonly events: readonly ReplicaEvent[];
  /** The members after this Ready, when an epoch changed them. */
  readonly members?: readonly Member[];
  readonly rebuildViews: boolean;
  readonly checks: readonly Check[];
  readonly pulls: readonly PullOrder[];
  /** Local writes sealed in this Ready: seq -> hlc, for their callers once the commit is durable. */
  readonly written: ReadonlyMap<number, bigint>;
}

/** Collects a Ready while the core steps; taken whole by ready(). */
export class Outbox {
  commits: Commit[] = [];
  announcements: Announcement[] = [];
  events: ReplicaEvent[] = [];
  members: readonly Member[] | undefined;
  rebuildViews = false;
  checks: Check[] = [];
  pulls: PullOrder[] = [];
  written = new Map<number, bigint>();

  get empty(): boolean {
    return (
      this.commits.length === 0 &&
      this.announcements.length === 0 &&
      this.events.length === 0 &&
      this.members === undefined &&
      !this.rebuildViews &&
      this.checks.length === 0 &&
      this.pulls.length === 0
    );
  }

  take(): Ready {
    const ready: Ready = {
      commits: this.commits,
      announcements: this.announcements,
      events: this.events,
      ...(this.members ? { members: this.members } : {}),
      rebuildViews: this.rebuildViews,
      checks: this.checks,
      pulls: this.pulls,
      written: this.written,
    };
    Object.assign(this, new Outbox());
    return ready;
  }
}
