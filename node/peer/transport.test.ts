// The node's transport against the PeerTransport contract: GrpcPeerTransport
// over TLS on 127.0.0.1 to real peer servers (startPeerServer) in front of the
// scripted remotes, and announcements over real libp2p gossip, wired as
// node/node.ts wires them (gossipAnnouncer, announcementValidator).

import { generateKeyPair, nodeIdOf } from '../../federation/crypto/sm2.js';
import { sm3 } from '../../federation/crypto/sm3.js';
import { Membership, type Member } from '../../federation/membership.js';
import { eventually } from '../../federation/testing/eventually.js';
import { transportCompliance } from '../../federation/testing/transport.compliance.js';
import { announcementValidator, Gossip, gossipAnnouncer, generatePeerKey, peerIdOfKey } from '../gossip.js';
import { freePorts } from '../local-alliance.js';
import { GrpcPeerTransport } from './client.js';
import { startPeerServer } from './server.js';
import { generateTlsIdentity, PeerTls, type TlsIdentity } from './tls.js';

const allianceId = sm3(Buffer.from('tongxing transport compliance alliance'));
const clock = { nowMs: () => Date.now() };

transportCompliance('gRPC with gossip', async (remotes) => {
  const stops: Array<() => Promise<void> | void> = [];
  const close = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    // The caller, the serving remotes, and a member whose port nobody listens on.
    const ports = await freePorts(remotes.length + 2);
    const nodes = await Promise.all(
      ports.map(async (port, i) => {
        const keyPair = generateKeyPair();
        const tls: TlsIdentity = await generateTlsIdentity(`city-${i}`);
        const gossipKey = await generatePeerKey();
        const nodeId = nodeIdOf(keyPair.publicKey);
        const member: Member = { nodeId, publicKey: keyPair.publicKey, city: `city-${i}`, regionCode: '530100', endpoints: [`127.0.0.1:${port}`], tlsCertificate: tls.certDer, libp2pPeerId: peerIdOfKey(gossipKey) };
        return { keyPair, tls, gossipKey, nodeId, member };
      }),
    );
    const [caller, unreachable, ...serving] = nodes as [(typeof nodes)[0], (typeof nodes)[0], ...typeof nodes];
    const members = new Membership(nodes.map((n) => n.member));
    const memberOfPeer = new Map(nodes.map((n) => [n.member.libp2pPeerId!, n.nodeId]));
    const allowedPeerIds = [...memberOfPeer.keys()];

    const remoteGossip: Gossip[] = [];
    for (const [i, node] of serving.entries()) {
      const remote = remotes[i]!;
      const server = await startPeerServer(
        { listen: node.member.endpoints[0]! },
        { replica: { nodeId: node.nodeId, handleExchangeHeads: (from, request) => remote.handleExchangeHeads(from, request), servePull: (from, request) => remote.servePull(from, request) }, members, allianceId, clock, tls: new PeerTls(node.tls, members) },
      );
      stops.push(() => server.stop());
      const gossip = new Gossip({ allianceIdHex: allianceId.toString('hex'), allowedPeerIds, privateKey: node.gossipKey, validate: announcementValidator(remote, (peerId) => memberOfPeer.get(peerId)) });
      await gossip.start();
      stops.push(() => gossip.stop());
      remoteGossip.push(gossip);
    }
    const gossip = new Gossip({
      allianceIdHex: allianceId.toString('hex'),
      allowedPeerIds,
      privateKey: caller.gossipKey,
      bootstrap: remoteGossip.flatMap((g) => g.addresses()),
      validate: () => 'ignore',
    });
    await gossip.start();
    stops.push(() => gossip.stop());
    // gossipsub sends only to peers in the mesh: wait for it (a condition, not a duration).
    await eventually('the gossip mesh', async () => gossip.meshPeers() === remotes.length && remoteGossip.every((g) => g.meshPeers() >= 1));

    const transport = new GrpcPeerTransport({
      allianceId,
      keyPair: caller.keyPair,
      members,
      tls: new PeerTls(caller.tls, members),
      announce: gossipAnnouncer(() => gossip, () => undefined),
    });
    stops.push(() => transport.close());
    return {
      transport,
      caller: caller.nodeId,
      peers: serving.map((n) => n.nodeId),
      unreachable: unreachable.nodeId,
      stranger: nodeIdOf(generateKeyPair().publicKey),
      settle: (work) => work,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
});
