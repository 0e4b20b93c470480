import { Bus } from './bus.js';
import { transportCompliance, type RemotePeer } from './transport.compliance.js';

transportCompliance('in-process bus', async (remotes) => {
  const bus = new Bus<RemotePeer>();
  const peers = remotes.map((remote, i) => {
    const id = `${i + 1}`.repeat(64);
    bus.replicas.set(id, remote);
    return id;
  });
  const caller = 'c'.repeat(64);
  return {
    transport: bus.transport(caller),
    caller,
    peers,
    unreachable: 'd'.repeat(64), // a member left off the bus
    stranger: 'e'.repeat(64),
    settle: (work) => work,
    close: async () => undefined,
  };
});
