import type { MemberRole } from '../gen/tongxing/records/v1/records.js';
import { nodeIdOf } from './crypto/sm2.js';
import { ValidationError } from './errors.js';

/** A member city node as the alliance knows it. */
export interface Member {
  readonly nodeId: string;
  /** Its current SM2 key (node id = SM3 of the key it was admitted with). */
  readonly publicKey: Uint8Array;
  readonly city: string;
  readonly regionCode: string;
  /** gRPC host:port of its peer service. */
  readonly endpoints: readonly string[];
  readonly roles?: readonly MemberRole[];
  /** Self-signed TLS certificate (DER) of its peer links, pinned by the other members. */
  readonly tlsCertificate?: Uint8Array;
  readonly gossipAddresses?: readonly string[];
  readonly libp2pPeerId?: string;
  /** 'active' when absent. Suspended and removed members are refused on peer calls. */
  readonly status?: 'active' | 'suspended' | 'removed';
  /** Keys rotated away: each still verifies heads up to its hlc. */
  readonly retiredKeys?: ReadonlyArray<{ readonly publicKey: Uint8Array; readonly untilHlc: bigint }>;
  /** Suspended or removed: its entries with a higher hlc are not accepted. */
  readonly cutoffHlc?: bigint;
}

/**
 * The alliance's members by node id, as replication sees them now: static
 * (tests, simulations) or replaced by governance whenever an epoch opens.
 */
export class Membership {
  #members = new Map<string, Member>();
  /** Kept with the map: anti-entropy and pulls ask for it every round. */
  #active: Member[] = [];
  readonly #listeners = new Set<() => void>();

  constructor(members: readonly Member[], options: { checkIds?: boolean } = {}) {
    this.#members = Membership.#index(members, options.checkIds ?? true);
    this.#active = this.list().filter((m) => (m.status ?? 'active') === 'active');
  }

  static #index(members: readonly Member[], checkIds: boolean): Map<string, Member> {
    const index = new Map<string, Member>();
    for (const [i, member] of members.entries()) {
      // A rotated key no longer hashes to the node id, so governed members skip this check.
      if (checkIds && nodeIdOf(member.publicKey) !== member.nodeId) {
        throw new ValidationError(`members[${i}].nodeId`, `is not the SM3 hash of the member's public key`);
      }
      if (index.has(member.nodeId)) throw new ValidationError(`members[${i}].nodeId`, 'appears twice');
      index.set(member.nodeId, member);
    }
    return index;
  }

  /** Replaces every member (governance opened an epoch) and tells the listeners. */
  replace(members: readonly Member[]): void {
    this.#members = Membership.#index(members, false);
    this.#active = this.list().filter((m) => (m.status ?? 'active') === 'active');
    for (const listener of this.#listeners) listener();
  }

  /** Called after each replace(); returns a function that unsubscribes. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get(nodeId: string): Member | undefined {
    return this.#members.get(nodeId);
  }

  /** Ever admitted (whatever its status now): its stored history stays verifiable. */
  has(nodeId: string): boolean {
    return this.#members.has(nodeId);
  }

  isActive(nodeId: string): boolean {
    const member = this.#members.get(nodeId);
    return member !== undefined && (member.status ?? 'active') === 'active';
  }

  /** The keys that may have signed a head of `nodeId` at `hlc`: its current key first. */
  keysFor(nodeId: string, hlc: bigint): Uint8Array[] {
    const member = this.#members.get(nodeId);
    if (!member) return [];
    return [member.publicKey, ...(member.retiredKeys ?? []).filter((k) => hlc <= k.untilHlc).map((k) => k.publicKey)];
  }

  list(): Member[] {
    return [...this.#members.values()];
  }

  /** Members that may take part now (call, gossip, be pulled from). Do not modify. */
  active(): readonly Member[] {
    return this.#active;
  }

  get size(): number {
    return this.#members.size;
  }
}
