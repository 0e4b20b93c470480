import { UnreachableError } from '../errors.js';
import type { PullEntriesResponse } from '../../gen/tongxing/federation/v1/peer.js';
import { checkPulledEntries, PullSlots } from '../pulls.js';
import type { PeerTransport, Replica } from '../replica.js';

/** What the bus calls on a member: a Replica, or a scripted stand-in. */
export type BusMember = Pick<Replica, 'handleExchangeHeads' | 'servePull' | 'receiveAnnouncement'>;

/**
 * Replicas of one test alliance talking in-process: announcements reach every
 * other replica on the bus, head exchanges and pulls call the peer directly.
 * A replica left off the bus (or removed from it) is unreachable. Pulls keep
 * to the rules of every transport (pulls.ts), and a failure on the far side
 * reaches the caller as a failed call, as over gRPC: never as the peer's own
 * TongxingError, which the replica would count as bad data from that peer.
 */
export class Bus<Member extends BusMember = Replica> {
  readonly replicas = new Map<string, Member>();
  /** Off: announcements are dropped, so only anti-entropy carries data. */
  gossip = true;

  transport(self: string): PeerTransport {
    const slots = new PullSlots();
    const bus = this;
    return {
      exchangeHeads: async (peer, request) => {
        const other = this.#peer(peer);
        try {
          return await other.handleExchangeHeads(self, request);
        } catch (error) {
          throw failedCall(peer, error);
        }
      },
      async *pullEntries(peer, request) {
        await slots.acquire(peer); // never closed
        let stream: AsyncGenerator<PullEntriesResponse> | undefined;
        try {
          stream = bus.#peer(peer).servePull(self, request);
          for (;;) {
            let next: IteratorResult<PullEntriesResponse>;
            try {
              next = await stream.next();
            } catch (error) {
              throw failedCall(peer, error);
            }
            if (next.done) return;
            checkPulledEntries(next.value.entries);
            yield next.value;
          }
        } finally {
          slots.release(peer);
          await stream?.return(undefined).catch(() => undefined); // the caller stopped early: the peer's stream ends too
        }
      },
      announce: (announcement) => {
        if (!this.gossip) return;
        for (const [id, other] of this.replicas) if (id !== self) void other.receiveAnnouncement(announcement, self).catch(() => undefined);
      },
    };
  }

  #peer(peer: string): BusMember {
    const other = this.replicas.get(peer);
    if (!other) throw new UnreachableError(`${peer.slice(0, 12)} unreachable`);
    return other;
  }
}

/** What a caller sees of an error on the far side: the peer's reason, as a failed call. */
function failedCall(peer: string, error: unknown): Error {
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new UnreachableError(`${peer.slice(0, 12)}: ${reason}`, { cause: error });
}
