import { nodeIdOf } from './crypto/sm2.js';
import { ValidationError } from './errors.js';

/** A member city node as the alliance knows it. */
export interface Member {
  readonly nodeId: string;
  readonly publicKey: Uint8Array;
  readonly city: string;
  readonly regionCode: string;
  /** gRPC host:port of its peer service. */
  readonly endpoints: readonly string[];
}

/** The alliance's members, by node id. Static for now; governance will change it by quorum. */
export class Membership {
  readonly #members = new Map<string, Member>();

  constructor(members: readonly Member[]) {
    for (const [i, member] of members.entries()) {
      if (nodeIdOf(member.publicKey) !== member.nodeId) {
        throw new ValidationError(`members[${i}].nodeId`, `is not the SM3 hash of the member's public key`);
      }
      if (this.#members.has(member.nodeId)) throw new ValidationError(`members[${i}].nodeId`, 'appears twice');
      this.#members.set(member.nodeId, member);
    }
  }

  get(nodeId: string): Member | undefined {
    return this.#members.get(nodeId);
  }

  has(nodeId: string): boolean {
    return this.#members.has(nodeId);
  }

  list(): Member[] {
    return [...this.#members.values()];
  }

  get size(): number {
    return this.#members.size;
  }
}
