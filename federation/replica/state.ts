import type { EquivocationProof, SignedHead } from '../../gen/tongxing/log/v1/log.js';
import type { Sm2KeyPair } from '../crypto/sm2.js';
import { assert, MembershipError } from '../errors.js';
import type { VerifiedGenesis } from '../governance/genesis.js';
import type { VerifiedSnapshot } from '../governance/snapshot.js';
import type { GovernanceState } from '../governance/state.js';
import { allianceMembersMax, gossipVerificationsPerPeerPerSecondMax } from '../limits.js';
import { zeroHash } from '../log/entry.js';
import { verifyHead } from '../log/head.js';
import { verifyWithKeys } from '../log/signer.js';
import type { LogWriter } from '../log/writer.js';
import type { Membership } from '../membership.js';
import type { ViewPolicy } from '../views/policy.js';
import { Outbox } from './ready.js';

// The replica core's state, shared by its jobs (commit, sync, recovery,
// equivocation, governance). Only the core and its job modules touch it.

export interface Clock {
  nowMs(): number;
}

export interface Random {
  /** An integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
  /** `length` uniformly random bytes: SM2 signing nonces draw from these. */
  bytes(length: number): Uint8Array;
}

export interface Tip {
  readonly seq: number;
  readonly hash: Uint8Array;
}

export const emptyLog: Tip = { seq: 0, hash: zeroHash };

export interface CoreInit {
  readonly allianceId: Buffer;
  readonly genesis?: VerifiedGenesis;
  readonly snapshot?: Pick<VerifiedSnapshot, 'epoch' | 'members'>;
  readonly nextKeyPair?: Sm2KeyPair;
}

/**
 * A token bucket per publisher, refilled at `perSecond` up to twice that,
 * timed by the caller's clock. Publishers are members, so the map stays
 * small; past allianceMembersMax the longest-unused entry goes.
 */
export class VerificationBudget {
  readonly #perSecond: number;
  readonly #buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(perSecond: number) {
    this.#perSecond = perSecond;
  }

  /** Takes one verification for `publisher`; false when its bucket is empty. */
  take(publisher: string, nowMs: number): boolean {
    const capacity = 2 * this.#perSecond;
    const bucket = this.#buckets.get(publisher) ?? { tokens: capacity, atMs: nowMs };
    this.#buckets.delete(publisher); // re-inserted below: insertion order is last use
    bucket.tokens = Math.min(capacity, bucket.tokens + (Math.max(0, nowMs - bucket.atMs) * this.#perSecond) / 1000);
    bucket.atMs = nowMs;
    const granted = bucket.tokens >= 1;
    if (granted) bucket.tokens -= 1;
    if (this.#buckets.size >= allianceMembersMax) this.#buckets.delete(this.#buckets.keys().next().value!);
    this.#buckets.set(publisher, bucket);
    return granted;
  }
}

export class CoreState {
  readonly outbox = new Outbox();
  /** Stored log ends, per author: what this node can serve. */
  readonly tips = new Map<string, Tip>();
  /** Log ends including commits decided but not yet durable: what the next entries must extend. */
  readonly accepted = new Map<string, Tip & { readonly head: SignedHead }>();
  /** Newest verified head whose seq is the stored tip: what we tell peers we can serve. */
  readonly served = new Map<string, SignedHead>();
  /** Highest verified head heard, per author (may be ahead of the store). */
  readonly known = new Map<string, SignedHead>();
  /** A peer that said it stores up to the known head. */
  readonly sources = new Map<string, string>();
  /** Newest signing time of a verified head, per author: the freshness of our picture of its log. */
  readonly signedAt = new Map<string, number>();
  readonly lastContact = new Map<string, number>();
  readonly proofs = new Map<string, EquivocationProof>();
  /** Pull slots: one running pull per author. */
  readonly pulling = new Set<string>();
  /** Signature checks gossip publishers may still cost this node. */
  readonly verifications = new VerificationBudget(gossipVerificationsPerPeerPerSecondMax);
  lastAnnouncedMs = -Infinity;
  closed = false;
  governance: GovernanceState | undefined;

  constructor(
    readonly init: CoreInit,
    readonly nodeId: string,
    /** The core's own copy: the shared one is replaced from Ready.members. */
    public members: Membership,
    public policy: ViewPolicy,
    public writer: LogWriter,
    /** The key this node signs with now (the configured one, or the next one after a rotation). */
    public writerKey: Sm2KeyPair,
    readonly clock: Clock,
    readonly random: Random,
  ) {}

  tipOf(author: string): Tip {
    return this.tips.get(author) ?? emptyLog;
  }

  acceptedOf(author: string): Tip {
    return this.accepted.get(author) ?? this.tipOf(author);
  }

  /** The head at the accepted tip: what a fork is proved against. */
  acceptedHead(author: string): SignedHead {
    const head = this.accepted.get(author)?.head ?? this.served.get(author);
    assert(head, `no head stored for ${author.slice(0, 12)}`);
    return head;
  }

  noteSignedAt(author: string, signedAtMs: number): void {
    if (signedAtMs > (this.signedAt.get(author) ?? -1)) this.signedAt.set(author, signedAtMs);
  }

  contact(peer: string): void {
    this.lastContact.set(peer, this.clock.nowMs());
  }

  reject(peer: string | undefined, reason: string): 'reject' {
    this.outbox.events.push({ type: 'rejected', peer, reason });
    return 'reject';
  }

  assertMember(peer: string): void {
    if (!this.members.isActive(peer)) {
      const member = this.members.get(peer);
      throw new MembershipError(member ? `${member.city} (${peer.slice(0, 12)}) is ${member.status}` : `${peer.slice(0, 12)} is not a member`);
    }
  }

  /**
   * The key that signed a head of `author`: its current key, or a key rotated
   * away after the head's hlc. Refuses heads of non-members and heads a
   * suspended or removed member signed past its cutoff.
   */
  signerKey(author: string, signed: SignedHead): Uint8Array {
    const member = this.members.get(author);
    if (!member) throw new MembershipError(`head of non-member ${author.slice(0, 12)}`);
    const hlc = signed.head!.hlc;
    if (member.cutoffHlc !== undefined && hlc > member.cutoffHlc) {
      throw new MembershipError(`${member.city} (${author.slice(0, 12)}) is ${member.status}: its entries after hlc ${member.cutoffHlc} are not accepted`);
    }
    return verifyWithKeys(this.members.keysFor(author, hlc), (key) => verifyHead(signed, key, this.init.allianceId, author)).publicKey;
  }
}
