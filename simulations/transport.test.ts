// The simulator's transport (SimTransport, SimPeerServer, GossipRouter) on a
// simulated network of the caller and the scripted remotes, against the
// PeerTransport contract every transport passes. Latencies come from a seeded
// stream (printed); calls to a crashed node time out in virtual time.

import { transportCompliance } from '../federation/testing/transport.compliance.js';
import { Network, Prng, Scheduler, VirtualTimers, type NodeId } from './core/index.js';
import { emptyGossipStats, gossipParamsDefault, GossipRouter } from './gossip.js';
import { emptyTransportStats, SimPeerServer, SimTransport, type PeerHandler } from './transport.js';
import { encodeAnnouncement, gossipPayload, messageBytes, type PeerMessage } from './wire.js';

const seed = 'transport-compliance-1';

/** Resolves after every queued microtask has run. */
const drained = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

transportCompliance('simulated', async (remotes) => {
  console.log(`simulated transport compliance: network seed ${seed}`);
  const scheduler = new Scheduler();
  const network = new Network<PeerMessage>({ scheduler, rng: new Prng(seed), timeQuantumMs: 1 });
  const stats = emptyTransportStats();
  const caller = 'c'.repeat(64);
  const peers = remotes.map((_, i) => `${i + 1}`.repeat(64));
  const everyone = [caller, ...peers];

  /** Attaches a node: gossip through its router (validated by `handler`), peer calls to its server when it serves. */
  const attach = (self: NodeId, handler?: PeerHandler & Pick<(typeof remotes)[number], 'receiveAnnouncement'>): GossipRouter => {
    const others = everyone.filter((id) => id !== self);
    const gossip = new GossipRouter({
      self,
      params: gossipParamsDefault,
      stats: emptyGossipStats(),
      nowMs: () => scheduler.now,
      meshPeers: () => others,
      allPeers: () => others,
      send: (to, payload) => network.send(self, to, payload, messageBytes(payload)),
      validate: async (announcement, from) => handler?.receiveAnnouncement(announcement, from) ?? 'ignore',
      forwards: true,
      alive: () => true,
    });
    const server = handler && new SimPeerServer({ self, timers: new VirtualTimers(scheduler), stats, handler, fail: (error) => scheduler.fail(error) });
    network.attach(
      self,
      (from, message) => {
        if (message.kind === 'gossip') return gossip.receive(from, message);
        if (message.kind === 'pull-cancel') return server?.onCancel(from, message.stream);
        return undefined;
      },
      server && ((from, request, reply) => server.onRequest(from, request, reply)),
    );
    return gossip;
  };

  remotes.forEach((remote, i) => attach(peers[i]!, remote));
  const gossip = attach(caller);
  const unreachable = 'd'.repeat(64);
  attach(unreachable);
  network.crash(unreachable);

  const transport = new SimTransport({
    self: caller,
    network,
    timers: new VirtualTimers(scheduler),
    stats,
    announce: (announcement) => gossip.publish(gossipPayload(encodeAnnouncement(announcement), 'record')),
  });
  return {
    transport,
    caller,
    peers,
    unreachable,
    stranger: 'e'.repeat(64), // never attached
    async settle<T>(work: Promise<T>): Promise<T> {
      let settled = false;
      work.then(
        () => (settled = true),
        () => (settled = true),
      );
      await drained();
      while (!settled) {
        const next = scheduler.nextTime();
        if (next === undefined) throw new Error(`nothing is scheduled at ${scheduler.now} ms and the work has not settled`);
        await scheduler.runUntilAsync(next);
      }
      return work;
    },
    close: async () => undefined,
  };
});
