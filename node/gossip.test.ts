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

afterEach(async () => {
  await Promise.all(running.splice(0).map((node) => node.stop()));
});

function node(
  init: Partial<GossipInit> & { verdict?: (payload: string) => GossipVerdict } = {},
): { gossip: Gossip; seen: Seen } {
  const seen: Seen = { validated: [], delivered: [] };
  const { verdict = () => 'accept', ...rest } = init;
  const gossip = new Gossip({
    allianceIdHex,
    dialRetryIntervalMs: 100, // tests wait on reconnects; production keeps the default
    validate: (payload) => {
      seen.validated.push(text(payload));
      return verdict(text(payload));
    },
    onMessage: (payload) => {
      seen.delivered.push(text(payload));
    },
    ...rest,
  });
  running.push(gossip); // stopped in afterEach even when a test fails
  return { gossip, seen };
}

/** A with no bootstrap peers, B and C bootstrapping to A: the path C -> A -> B has two hops. */
async function star(verdictAtA?: (payload: string) => GossipVerdict) {
  const a = node({ verdict: verdictAtA });
  await a.gossip.start();
  const b = node({ bootstrap: a.gossip.addresses() });
  const c = node({ bootstrap: a.gossip.addresses() });
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
    const { gossip } = node();
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
    const { gossip } = node();
    await gossip.start();
    await expect(gossip.publish(bytes('alone'))).resolves.toBe(0);
    await expect(gossip.publish(new Uint8Array(gossipMessageBytesMax + 1))).rejects.toMatchObject({ name: 'LimitError' });
  });

  it('delivers a message published by C to A and B, and names C as the sender at D, two hops away', async () => {
    const { a, b, c } = await star();
    const from: string[] = [];
    const d = node({ bootstrap: a.gossip.addresses(), onMessage: (_payload, fromPeer) => void from.push(fromPeer) });
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

  it('graylists a peer after a few invalid messages', async () => {
    const { a, c } = await star((payload) => (payload.startsWith('bad') ? 'reject' : 'accept'));
    const threshold = gossipScoreThresholds.graylistThreshold;

    for (const payload of ['bad-1', 'bad-2', 'bad-3']) await c.gossip.publish(bytes(payload));

    await waitFor(() => a.gossip.peerScore(c.gossip.peerId) < threshold, `C's score at A below ${threshold}`);
    expect(a.seen.delivered).toEqual([]);
  });

  it('keeps its peer id across a restart from a saved key, and its peers reconnect', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tongxing-gossip-'));
    try {
      const keyFile = join(dir, 'peer.key');
      await writeFile(keyFile, peerKeyToBase64(await generatePeerKey()));
      const key = peerKeyFromBase64(await readFile(keyFile, 'utf8'));

      const first = node({ privateKey: key });
      await first.gossip.start();
      const peerId = first.gossip.peerId;
      expect(peerId).toBe(peerIdOfKey(key));
      const address = first.gossip.addresses()[0]!;
      const port = /\/tcp\/(\d+)\//.exec(address)![1]!;
      const other = node({ bootstrap: [address] });
      await other.gossip.start();
      await waitFor(() => other.gossip.peers() === 1, 'connected before restart');

      await first.gossip.stop();
      await waitFor(() => other.gossip.peers() === 0, 'disconnect noticed');

      const second = node({ privateKey: peerKeyFromBase64(await readFile(keyFile, 'utf8')), listen: `/ip4/127.0.0.1/tcp/${port}` });
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

    const early = node({ bootstrap: [address] });
    await early.gossip.start(); // its first dial has failed by now: nothing listens yet
    expect(early.gossip.peers()).toBe(0);

    const late = node({ privateKey: key, listen: `/ip4/127.0.0.1/tcp/${port}` });
    await late.gossip.start();
    await waitFor(() => early.gossip.peers() === 1 && late.gossip.peers() === 1, 'joined after retry');

    await late.gossip.publish(bytes('hello'));
    await waitFor(() => early.seen.delivered.includes('hello'), 'delivery after joining');
  });
});
