// Real libp2p nodes on 127.0.0.1. No assertion depends on timing: every wait
// polls a condition until a generous deadline.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Gossip,
  generatePeerKey,
  gossipInvalidMessagesMax,
  gossipMessageBytesMax,
  gossipScoreThresholds,
  headsTopic,
  peerIdOfKey,
  peerKeyFromBase64,
  peerKeyToBase64,
  type GossipInit,
  type GossipVerdict,
} from './gossip.js';

const allianceIdHex = 'a11ce0';
const text = (payload: Uint8Array): string => Buffer.from(payload).toString('utf8');
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

async function waitFor(condition: () => boolean, what: string, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A port that was free a moment ago, for a node whose address must be known before it starts. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** What one node saw: payloads its validator was asked about, and payloads delivered to onMessage. */
interface Seen {
  validated: string[];
  delivered: string[];
}

const running: Gossip[] = [];
/** The test's alliance: every node() is a member and allows every other member (see gossip.members.test.ts for outsiders). */
const members = new Set<string>();

afterEach(async () => {
  members.clear();
  await Promise.all(running.splice(0).map((node) => node.stop()));
});

async function node(
  init: Partial<GossipInit> & { verdict?: (payload: string) => GossipVerdict | Promise<GossipVerdict> } = {},
): Promise<{ gossip: Gossip; seen: Seen }> {
  const seen: Seen = { validated: [], delivered: [] };
  const { verdict = () => 'accept', ...rest } = init;
  const privateKey = rest.privateKey ?? (await generatePeerKey());
  members.add(peerIdOfKey(privateKey));
  for (const other of running) await other.allowPeers(members);
  const gossip = new Gossip({
    allianceIdHex,
    allowedPeerIds: members,
    dialRetryIntervalMs: 100, // tests wait on reconnects; production keeps the default
    validate: (payload) => {
      seen.validated.push(text(payload));
      return verdict(text(payload));
    },
    onMessage: (payload) => {
      seen.delivered.push(text(payload));
    },
    ...rest,
    privateKey,
  });
  running.push(gossip); // stopped in afterEach even when a test fails
  return { gossip, seen };
}

/** A with no bootstrap peers, B and C bootstrapping to A: the path C -> A -> B has two hops. */
async function star(verdictAtA?: (payload: string) => GossipVerdict | Promise<GossipVerdict>) {
  const a = await node({ verdict: verdictAtA });
  await a.gossip.start();
  const b = await node({ bootstrap: a.gossip.addresses() });
  const c = await node({ bootstrap: a.gossip.addresses() });
  await Promise.all([b.gossip.start(), c.gossip.start()]);
  await waitFor(() => a.gossip.meshPeers() === 2 && b.gossip.meshPeers() === 1 && c.gossip.meshPeers() === 1, 'mesh A-B, A-C');
  return { a, b, c };
}

describe('Gossip', () => {
  it('names the topic after the alliance and rejects a malformed alliance id', () => {
    expect(headsTopic('a11ce0')).toBe('/tongxing/a11ce0/heads/1');
    expect(() => headsTopic('A11CE')).toThrow(/hex/);
  });

  it('exposes listen addresses ending in its peer id', async () => {
    const { gossip } = await node();
    await gossip.start();
    const addresses = gossip.addresses();
    expect(addresses.length).toBeGreaterThan(0);
    for (const address of addresses) expect(address).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${gossip.peerId}$`));
  });

  it('round-trips a peer key through its key-file text and refuses garbage', async () => {
    const key = await generatePeerKey();
    expect(peerIdOfKey(peerKeyFromBase64(peerKeyToBase64(key)))).toBe(peerIdOfKey(key));
    expect(() => peerKeyFromBase64('bm90IGEga2V5')).toThrow(expect.objectContaining({ name: 'EncodingError' }));
  });

  it('publishes without error before any peer is subscribed, and refuses oversized payloads', async () => {
    const { gossip } = await node();
    await gossip.start();
    await expect(gossip.publish(bytes('alone'))).resolves.toBe(0);
    await expect(gossip.publish(new Uint8Array(gossipMessageBytesMax + 1))).rejects.toMatchObject({ name: 'LimitError' });
  });

  it('delivers a message published by C to A and B, and names C as the sender at D, two hops away', async () => {
    const { a, b, c } = await star();
    const from: string[] = [];
    const d = await node({ bootstrap: a.gossip.addresses(), onMessage: (_payload, fromPeer) => void from.push(fromPeer) });
    await d.gossip.start();
    // A forwards only to its mesh, so wait until D is in it (see Gossip.meshPeers).
    await waitFor(() => a.gossip.meshPeers() === 3 && d.gossip.meshPeers() === 1, 'D in the mesh');

    await c.gossip.publish(bytes('head-1'));

    await waitFor(
      () => a.seen.delivered.includes('head-1') && b.seen.delivered.includes('head-1') && from.length === 1,
      'delivery at A, B and D',
    );
    expect(from).toEqual([c.gossip.peerId]);
    expect(c.seen.delivered).toEqual([]); // emitSelf is off
  });

  it('does not deliver or forward a message its validator rejects', async () => {
    const { a, b, c } = await star((payload) => (payload.startsWith('bad') ? 'reject' : 'accept'));

    await c.gossip.publish(bytes('bad-1'));
    await waitFor(() => a.seen.validated.includes('bad-1'), 'A validated bad-1');
    // Same path, published after A has judged bad-1: once good-1 reaches B,
    // a forwarded bad-1 would have reached it first.
    await c.gossip.publish(bytes('good-1'));
    await waitFor(() => b.seen.delivered.includes('good-1'), 'good-1 at B');

    expect(a.seen.delivered).toEqual(['good-1']);
    expect(b.seen.validated).toEqual(['good-1']);
    expect(b.seen.delivered).toEqual(['good-1']);
    // gossipsub caches a score for one heartbeat, so poll rather than read once.
    await waitFor(() => a.gossip.peerScore(c.gossip.peerId) < 0, "C's score at A drops");
  });

  it(`graylists a peer at gossipInvalidMessagesMax (${gossipInvalidMessagesMax}) invalid messages and validates nothing more it sends`, async () => {
    // A validator that takes a while to answer (the node's may wait on the
    // replica), so later messages of the burst arrive while it is still judging.
    const slowly = async (payload: string): Promise<GossipVerdict> => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return payload.startsWith('bad') ? 'reject' : 'accept';
    };
    const { a, c } = await star(slowly);
    const threshold = gossipScoreThresholds.graylistThreshold;
    const burst = 20;

    // One burst: gossipsub would hand all of it to the validator (it rechecks a
    // well-scored peer once a second), so the count shows Gossip's own gate.
    await Promise.all(Array.from({ length: burst }, (_, i) => c.gossip.publish(bytes(`bad-${i}`))));

    await waitFor(() => a.gossip.peerScore(c.gossip.peerId) < threshold, `C's score at A below ${threshold}`);
    await waitFor(() => a.gossip.counters.messagesRefusedUnvalidated > 0, 'later messages refused unvalidated');
    expect(a.seen.validated).toHaveLength(gossipInvalidMessagesMax);
    expect(a.seen.delivered).toEqual([]);
  });

  it('keeps its peer id across a restart from a saved key, and its peers reconnect', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tongxing-gossip-'));
    try {
      const keyFile = join(dir, 'peer.key');
      await writeFile(keyFile, peerKeyToBase64(await generatePeerKey()));
      const key = peerKeyFromBase64(await readFile(keyFile, 'utf8'));

      const first = await node({ privateKey: key });
      await first.gossip.start();
      const peerId = first.gossip.peerId;
      expect(peerId).toBe(peerIdOfKey(key));
      const address = first.gossip.addresses()[0]!;
      const port = /\/tcp\/(\d+)\//.exec(address)![1]!;
      const other = await node({ bootstrap: [address] });
      await other.gossip.start();
      await waitFor(() => other.gossip.peers() === 1, 'connected before restart');

      await first.gossip.stop();
      await waitFor(() => other.gossip.peers() === 0, 'disconnect noticed');

      const second = await node({ privateKey: peerKeyFromBase64(await readFile(keyFile, 'utf8')), listen: `/ip4/127.0.0.1/tcp/${port}` });
      await second.gossip.start();
      expect(second.gossip.peerId).toBe(peerId);
      expect(second.gossip.addresses()).toContain(address);
      await waitFor(() => other.gossip.peers() === 1 && second.gossip.peers() === 1, 'reconnected after restart');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('joins a bootstrap peer that starts after it', async () => {
    const key = await generatePeerKey();
    const port = await freePort();
    const address = `/ip4/127.0.0.1/tcp/${port}/p2p/${peerIdOfKey(key)}`;

    const early = await node({ bootstrap: [address] });
    await early.gossip.start(); // its first dial has failed by now: nothing listens yet
    expect(early.gossip.peers()).toBe(0);

    const late = await node({ privateKey: key, listen: `/ip4/127.0.0.1/tcp/${port}` });
    await late.gossip.start();
    await waitFor(() => early.gossip.peers() === 1 && late.gossip.peers() === 1, 'joined after retry');

    await late.gossip.publish(bytes('hello'));
    await waitFor(() => early.seen.delivered.includes('hello'), 'delivery after joining');
  });
});
