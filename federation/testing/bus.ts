import type { PeerTransport, Replica } from '../replica.js';

/**
 * Replicas of one test alliance talking in-process: announcements reach every
 * other replica on the bus, head exchanges and pulls call the peer directly.
 * A replica left off the bus (or removed from it) is unreachable.
 */
export class Bus {
  readonly replicas = new Map<string, Replica>();

  #peer(peer: string): Replica {
    const other = this.replicas.get(peer);
    if (!other) throw new Error(`${peer.slice(0, 12)} unreachable`);
    return other;
  }

  transport(self: string): PeerTransport {
    return {
      exchangeHeads: async (peer, request) => this.#peer(peer).handleExchangeHeads(self, request),
      pullEntries: (peer, request) => this.#peer(peer).servePull(self, request),
      announce: (announcement) => {
        for (const [id, other] of this.replicas) if (id !== self) void other.receiveAnnouncement(announcement, self).catch(() => undefined);
      },
    };
  }
}
