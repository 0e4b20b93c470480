// The peer service end to end: real grpc-js on 127.0.0.1, real SM2 keys,
// Replicas over MemoryStores. Replication is checked by outcome (stores end
// up identical), never by timing: waits poll a condition up to a deadline.

import { createServer } from 'node:net';
import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  PeerServiceClient,
  PeerServiceService,
  PullEntriesResponse,
  type PullEntriesRequest,
} from '../../gen/tongxing/federation/v1/peer.js';
import type { SignedHead } from '../../gen/tongxing/log/v1/log.js';
import { generateKeyPair, nodeIdOf, sign, type Sm2KeyPair } from '../../federation/crypto/sm2.js';
import { sm3 } from '../../federation/crypto/sm3.js';
import { pullsInFlightPerPeerMax } from '../../federation/limits.js';
import { credentialAgeMsMax } from '../limits.js';
import { headSigningBytes } from '../../federation/log/head.js';
import { Membership } from '../../federation/membership.js';
import { Replica, type Random, type ReplicaEvent } from '../../federation/replica.js';
import { MemoryStore } from '../../federation/store/memory.js';
import { Bus } from '../../federation/testing/bus.js';
import { entityRegistration, sanctionIssue, usccFor } from '../../federation/testing/records.js';
import { GrpcPeerTransport, PeerCallError } from './client.js';
import { CredentialIssuer, credentialMetadata, peerChannelCredentials } from './credential.js';
import { splitChunk, startPeerServer, type PeerHandler } from './server.js';
import { freePorts } from '../local-alliance.js';
import { Prng } from '../../federation/testing/prng.js';

const seed = Number(process.env.TONGXING_SEED ?? Math.floor(Math.random() * 2 ** 32));
console.log(`peer.test.ts seed ${seed} (replay with TONGXING_SEED=${seed})`);

const allianceId = sm3(Buffer.from('tongxing peer test alliance'));
const clock = { nowMs: () => Date.now() };

/** mulberry32: peer choices in anti-entropy and pulls come from the seed. */
function seededRandom(seedValue: number): Random {
  const nonces = new Prng(`nonces/${seedValue}`);
  let state = seedValue >>> 0;
  return {
    int(maxExclusive: number): number {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * maxExclusive);
    },
    bytes: (length) => nonces.bytes(length),
  };
}

// ---- cleanup: everything started is stopped, in reverse order, even on failure ----

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  const errors: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
});

async function until(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Identity {
  readonly keyPair: Sm2KeyPair;
  readonly nodeId: string;
  readonly port: number;
  readonly endpoint: string;
}

async function identities(count: number): Promise<Identity[]> {
  const ports = await freePorts(count);
  return ports.map((port) => {
    const keyPair = generateKeyPair();
    return { keyPair, nodeId: nodeIdOf(keyPair.publicKey), port, endpoint: `127.0.0.1:${port}` };
  });
}

function membershipOf(ids: readonly Identity[]): Membership {
  return new Membership(
    ids.map((id, i) => ({ nodeId: id.nodeId, publicKey: id.keyPair.publicKey, city: `city-${i}`, regionCode: '530100', endpoints: [id.endpoint] })),
  );
}

interface TestNode extends Identity {
  readonly store: MemoryStore;
  readonly replica: Replica;
  readonly events: ReplicaEvent[];
  readonly transport: GrpcPeerTransport;
}

/** A replica with a GrpcPeerTransport (announce off: anti-entropy and pull only), optionally serving. */
async function startNode(id: Identity, members: Membership, index: number, serve: { messageBytesMax?: number } | false = {}): Promise<TestNode> {
  const store = new MemoryStore();
  const events: ReplicaEvent[] = [];
  const transport = new GrpcPeerTransport({ allianceId, keyPair: id.keyPair, members, announce: () => {} });
  cleanups.push(() => transport.close());
  const replica = await Replica.open(
    { allianceId, keyPair: id.keyPair, members },
    { store, transport, clock, random: seededRandom(seed + index), onEvent: (event) => events.push(event) },
  );
  cleanups.push(() => replica.close());
  if (serve !== false) {
    const server = await startPeerServer({ listen: id.endpoint, messageBytesMax: serve.messageBytesMax }, { replica, members, allianceId, clock });
    cleanups.push(() => server.stop());
  }
  return { ...id, store, replica, events, transport };
}

async function storedSeq(node: TestNode, author: string): Promise<number> {
  return Number((await node.store.latestHead(author))?.head?.seq ?? 0);
}

async function entryBytes(node: TestNode, author: string, count: number): Promise<Buffer[]> {
  return (await node.store.entries(author, 1, count, count)).map((e) => Buffer.from(e.bytes));
}

/** Count and digest of a log's entries: compares thousands of entries without a slow deep equality. */
function logDigest(entries: readonly Uint8Array[]): { count: number; sm3: string } {
  const framed = entries.flatMap((e) => [Buffer.from(Uint32Array.of(e.length).buffer), e]);
  return { count: entries.length, sm3: sm3(Buffer.concat(framed)).toString('hex') };
}

function rawClient(endpoint: string): PeerServiceClient {
  const client = new PeerServiceClient(endpoint, peerChannelCredentials());
  cleanups.push(() => client.close());
  return client;
}

function rawExchangeHeads(client: PeerServiceClient, metadata: Metadata): Promise<{ code: Status; details: string }> {
  return new Promise((resolve) => {
    client.exchangeHeads({ heads: [], proofs: [] }, metadata, { deadline: Date.now() + 10_000 }, (error) => {
      resolve(error ? { code: error.code, details: error.details } : { code: Status.OK, details: '' });
    });
  });
}

async function rawPull(client: PeerServiceClient, request: PullEntriesRequest, metadata: Metadata): Promise<{ code: Status; details: string; messages: PullEntriesResponse[] }> {
  const messages: PullEntriesResponse[] = [];
  try {
    for await (const message of client.pullEntries(request, metadata) as AsyncIterable<PullEntriesResponse>) messages.push(message);
    return { code: Status.OK, details: '', messages };
  } catch (error) {
    return { code: (error as ServiceError).code, details: (error as ServiceError).details, messages };
  }
}

function credentialFor(caller: Identity, callee: string, method: string, overrides: { issuedAtMs?: number; nonce?: Uint8Array } = {}): Metadata {
  return credentialMetadata(new CredentialIssuer({ allianceId, keyPair: caller.keyPair }).issue({ callee, method, issuedAtMs: overrides.issuedAtMs ?? Date.now(), nonce: overrides.nonce }));
}

const exchangePath = PeerServiceService.exchangeHeads.path;
const pullPath = PeerServiceService.pullEntries.path;

describe('replication over gRPC', () => {
  it('anti-entropy alone (no announcements) converges three replicas to the same entries, heads and views', async () => {
    const ids = await identities(3);
    const members = membershipOf(ids);
    const [a, b, c] = await Promise.all(ids.map((id, i) => startNode(id, members, i)));
    if (!a || !b || !c) throw new Error('three nodes');

    const now = Date.now();
    await Promise.all([
      a.replica.write(entityRegistration(usccFor(1))),
      a.replica.write(entityRegistration(usccFor(2))),
      a.replica.write(sanctionIssue('S-1', usccFor(2), now)),
    ]);
    await a.replica.write(entityRegistration(usccFor(3))); // a second batch under a second head
    await b.replica.write(entityRegistration(usccFor(4)));

    await until('B and C to store both logs, A to store B', async () => {
      await Promise.all([a.replica.antiEntropyRound(), b.replica.antiEntropyRound(), c.replica.antiEntropyRound()]);
      const seqs = await Promise.all([storedSeq(b, a.nodeId), storedSeq(c, a.nodeId), storedSeq(c, b.nodeId), storedSeq(a, b.nodeId)]);
      return seqs.join() === '4,4,1,1';
    });

    for (const node of [b, c]) {
      expect(await entryBytes(node, a.nodeId, 10)).toEqual(await entryBytes(a, a.nodeId, 10));
    }
    expect(await entryBytes(c, b.nodeId, 10)).toEqual(await entryBytes(b, b.nodeId, 10));
    const heads = await Promise.all([a, b, c].map((node) => node.store.latestHeads()));
    expect(heads[1]).toEqual(heads[0]);
    expect(heads[2]).toEqual(heads[0]);
    const views = await Promise.all([a, b, c].map((node) => node.store.stateRange('view/', 10_000)));
    expect(views[0]!.length).toBeGreaterThan(0);
    expect(views[1]).toEqual(views[0]);
    expect(views[2]).toEqual(views[0]);
    for (const node of [a, b, c]) expect(node.events.filter((e) => e.type === 'rejected')).toEqual([]);
  });

  it('a fresh replica catches up on thousands of entries through chunks split across messages', async () => {
    const ids = await identities(3);
    const members = membershipOf(ids);
    const messageBytesMax = 64 * 1024; // so that every 2000-entry chunk travels in several messages
    const [a, b, c] = await Promise.all(ids.map((id, i) => startNode(id, members, i, { messageBytesMax })));
    if (!a || !b || !c) throw new Error('three nodes');

    const total = 5000;
    const writing = performance.now();
    for (let first = 0; first < total; first += 1000) {
      await Promise.all(Array.from({ length: Math.min(1000, total - first) }, (_, i) => a.replica.write(entityRegistration(usccFor(first + i)))));
    }

    console.log(`writing ${total} entries at A: ${((performance.now() - writing) / 1000).toFixed(2)} s`);

    // On the wire: messages within the bound, chunks ending on heads, all entries in order.
    const { code, messages } = await rawPull(rawClient(a.endpoint), { author: Buffer.from(a.nodeId, 'hex'), afterSeq: 0n, upToSeq: 0n }, credentialFor(b, a.nodeId, pullPath));
    expect(code).toBe(Status.OK);
    for (const message of messages) expect(PullEntriesResponse.encode(message).finish().length).toBeLessThanOrEqual(messageBytesMax);
    const headSeqs = messages.flatMap((m) => (m.head ? [Number(m.head.head!.seq)] : []));
    expect(headSeqs).toEqual([2000, 4000, 5000]);
    expect(messages.length).toBeGreaterThan(headSeqs.length);
    const expected = logDigest(await entryBytes(a, a.nodeId, total));
    expect(expected.count).toBe(total);
    expect(logDigest(messages.flatMap((m) => m.entries))).toEqual(expected);

    const started = performance.now();
    await until('B to store all of A', async () => {
      await b.replica.antiEntropyRound();
      return (await storedSeq(b, a.nodeId)) === total;
    });
    const seconds = (performance.now() - started) / 1000;
    console.log(`catch-up of ${total} entries: ${seconds.toFixed(2)} s, ${Math.round(total / seconds)} entries/s (includes anti-entropy rounds that picked the empty peer)`);
    await until('C to store all of A (from A or B)', async () => {
      await c.replica.antiEntropyRound();
      return (await storedSeq(c, a.nodeId)) === total;
    });
    expect(logDigest(await entryBytes(b, a.nodeId, total))).toEqual(expected);
    expect(logDigest(await entryBytes(c, a.nodeId, total))).toEqual(expected);
    expect(b.events.filter((e) => e.type === 'ingested' && e.source === 'pull').length).toBeGreaterThanOrEqual(3);
  });

  it('pull splitting keeps entries shared, in order, and the head on the last message only', () => {
    const entries = Array.from({ length: 50 }, (_, i) => Buffer.alloc(1000 + i, i));
    const head: SignedHead = { head: undefined, signature: Buffer.alloc(72, 1) };
    const messages = splitChunk({ entries, head }, 4096);
    expect(messages.length).toBeGreaterThan(10);
    expect(messages.flatMap((m) => m.entries)).toEqual(entries);
    expect(messages.flatMap((m) => m.entries)[7]).toBe(entries[7]); // the same Buffer, not a copy
    expect(messages.map((m) => m.head !== undefined)).toEqual(messages.map((_, i) => i === messages.length - 1));
    for (const m of messages) expect(PullEntriesResponse.encode(m).finish().length).toBeLessThanOrEqual(4096);
    expect(splitChunk({ entries: entries.slice(0, 2), head }, 4096)).toHaveLength(1);
  });
});

describe('call authentication', () => {
  async function servingPair(): Promise<{ a: TestNode; b: Identity; c: Identity }> {
    const ids = await identities(3);
    const members = membershipOf(ids);
    const a = await startNode(ids[0]!, members, 0);
    await a.replica.write(entityRegistration(usccFor(1)));
    return { a, b: ids[1]!, c: ids[2]! };
  }

  it('refuses a caller that is not a member (PERMISSION_DENIED) and serves it nothing', async () => {
    const { a } = await servingPair();
    const [outsider] = await identities(1);
    const transport = new GrpcPeerTransport({ allianceId, keyPair: outsider!.keyPair, members: a.replica.members, announce: () => {} });
    cleanups.push(() => transport.close());

    const exchange = await transport.exchangeHeads(a.nodeId, { heads: [], proofs: [] }).catch((error: unknown) => error);
    expect(exchange).toBeInstanceOf(PeerCallError);
    expect((exchange as PeerCallError).code).toBe(Status.PERMISSION_DENIED);

    const chunks: PullEntriesResponse[] = [];
    const pull = await (async () => {
      for await (const chunk of transport.pullEntries(a.nodeId, { author: Buffer.from(a.nodeId, 'hex'), afterSeq: 0n, upToSeq: 0n })) chunks.push(chunk);
    })().catch((error: unknown) => error);
    expect(pull).toBeInstanceOf(PeerCallError);
    expect((pull as PeerCallError).code).toBe(Status.PERMISSION_DENIED);
    expect(chunks).toEqual([]);
    expect(a.replica.logs().every((log) => log.lastContactMs === undefined)).toBe(true);
  });

  it('accepts a credential once: a replay (same nonce) is UNAUTHENTICATED', async () => {
    const { a, b } = await servingPair();
    const client = rawClient(a.endpoint);
    const exchange = credentialFor(b, a.nodeId, exchangePath);
    expect((await rawExchangeHeads(client, exchange)).code).toBe(Status.OK);
    expect(await rawExchangeHeads(client, exchange)).toMatchObject({ code: Status.UNAUTHENTICATED, details: expect.stringContaining('replayed') });

    const pull = credentialFor(b, a.nodeId, pullPath);
    const request = { author: Buffer.from(a.nodeId, 'hex'), afterSeq: 0n, upToSeq: 0n };
    const first = await rawPull(client, request, pull);
    expect(first.code).toBe(Status.OK);
    expect(first.messages).toHaveLength(1);
    const replay = await rawPull(client, request, pull);
    expect(replay.code).toBe(Status.UNAUTHENTICATED);
    expect(replay.messages).toEqual([]);
  });

  // Issue 12: nonces are kept in memory, so a credential used before the callee restarted was accepted again after it.
  it('refuses a credential used before the callee restarted (UNAUTHENTICATED); a fresh one from an honest client passes', async () => {
    const ids = await identities(2);
    const members = membershipOf(ids);
    const a = await startNode(ids[0]!, members, 0, false);
    const serve = () => startPeerServer({ listen: a.endpoint }, { replica: a.replica, members, allianceId, clock });
    const first = await serve();
    const client = rawClient(a.endpoint);
    const used = credentialFor(ids[1]!, a.nodeId, exchangePath);
    expect((await rawExchangeHeads(client, used)).code).toBe(Status.OK);
    await first.stop();

    const stoppedAtMs = Date.now(); // the credential was issued no later
    await until('the clock to pass the credential', () => Date.now() > stoppedAtMs);
    const second = await serve();
    cleanups.push(() => second.stop());
    expect(await rawExchangeHeads(rawClient(a.endpoint), used)).toMatchObject({ code: Status.UNAUTHENTICATED, details: expect.stringMatching(/before this node started/) });
    const honest = new GrpcPeerTransport({ allianceId, keyPair: ids[1]!.keyPair, members, announce: () => {} });
    cleanups.push(() => honest.close());
    await expect(honest.exchangeHeads(a.nodeId, { heads: [], proofs: [] })).resolves.toBeDefined();
  });

  it('refuses a credential for another callee, method or alliance (PERMISSION_DENIED)', async () => {
    const { a, b, c } = await servingPair();
    const client = rawClient(a.endpoint);
    expect((await rawExchangeHeads(client, credentialFor(b, c.nodeId, exchangePath))).code).toBe(Status.PERMISSION_DENIED);
    expect((await rawExchangeHeads(client, credentialFor(b, a.nodeId, pullPath))).code).toBe(Status.PERMISSION_DENIED);
    const request = { author: Buffer.from(a.nodeId, 'hex'), afterSeq: 0n, upToSeq: 0n };
    const pull = await rawPull(client, request, credentialFor(b, a.nodeId, exchangePath));
    expect(pull.code).toBe(Status.PERMISSION_DENIED);
    expect(pull.messages).toEqual([]);
    const otherAlliance = new CredentialIssuer({ allianceId: sm3(Buffer.from('another alliance')), keyPair: b.keyPair }).issue({ callee: a.nodeId, method: exchangePath, issuedAtMs: Date.now() });
    expect((await rawExchangeHeads(client, credentialMetadata(otherAlliance))).code).toBe(Status.PERMISSION_DENIED);
  });

  it('refuses a missing, stale, future, mis-signed or malformed credential (UNAUTHENTICATED)', async () => {
    const { a, b } = await servingPair();
    const client = rawClient(a.endpoint);
    expect((await rawExchangeHeads(client, new Metadata())).code).toBe(Status.UNAUTHENTICATED);
    const stale = credentialFor(b, a.nodeId, exchangePath, { issuedAtMs: Date.now() - credentialAgeMsMax - 5_000 });
    expect((await rawExchangeHeads(client, stale)).code).toBe(Status.UNAUTHENTICATED);
    const future = credentialFor(b, a.nodeId, exchangePath, { issuedAtMs: Date.now() + credentialAgeMsMax + 5_000 });
    expect((await rawExchangeHeads(client, future)).code).toBe(Status.UNAUTHENTICATED);

    const credential = new CredentialIssuer({ allianceId, keyPair: b.keyPair }).issue({ callee: a.nodeId, method: exchangePath, issuedAtMs: Date.now() });
    const tampered = { ...credential, issuedAtMs: credential.issuedAtMs + 1n }; // signed fields changed after signing
    expect((await rawExchangeHeads(client, credentialMetadata(tampered))).code).toBe(Status.UNAUTHENTICATED);
    const truncated = { ...credential, signature: credential.signature.subarray(0, 10) };
    expect((await rawExchangeHeads(client, credentialMetadata(truncated))).code).toBe(Status.UNAUTHENTICATED);
    const garbage = new Metadata();
    garbage.set('tongxing-credential-bin', Buffer.from([0xff, 0xff, 0xff]));
    expect((await rawExchangeHeads(client, garbage)).code).toBe(Status.UNAUTHENTICATED);
    // None of the refusals used up the genuine credential's nonce.
    expect((await rawExchangeHeads(client, credentialMetadata(credential))).code).toBe(Status.OK);
  });
});

describe('bounded pulls', () => {
  /** A member's server whose pulls wait at a gate, then serve one (unverified) chunk: a slow or stuck peer. */
  async function gatedServer(): Promise<{ server: Identity; caller: Identity; members: Membership; entered: () => number; open: () => void }> {
    const [server, caller] = (await identities(2)) as [Identity, Identity];
    const members = membershipOf([server, caller]);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let entered = 0;
    const handler: PeerHandler = {
      nodeId: server.nodeId,
      handleExchangeHeads: async () => ({ heads: [], proofs: [] }),
      async *servePull() {
        entered++;
        await gate;
        yield { entries: [Buffer.from('entry')], head: { head: undefined, signature: Buffer.alloc(0) } };
      },
    };
    const peer = await startPeerServer({ listen: server.endpoint }, { replica: handler, members, allianceId, clock });
    cleanups.push(() => peer.stop());
    cleanups.push(open); // runs before stop, so no handler stays stuck
    return { server, caller, members, entered: () => entered, open };
  }

  const pullAll = async (pulls: AsyncIterable<PullEntriesResponse>): Promise<PullEntriesResponse[] | unknown> => {
    const chunks: PullEntriesResponse[] = [];
    try {
      for await (const chunk of pulls) chunks.push(chunk);
      return chunks;
    } catch (error) {
      return error;
    }
  };

  it('refuses a pull beyond pullsInFlightPerPeerMax (RESOURCE_EXHAUSTED, with the numbers)', async () => {
    const { server, caller, entered } = await gatedServer();
    const client = rawClient(server.endpoint);
    const request = { author: Buffer.from(server.nodeId, 'hex'), afterSeq: 0n, upToSeq: 0n };
    const held = Array.from({ length: pullsInFlightPerPeerMax }, () => rawPull(client, request, credentialFor(caller, server.nodeId, pullPath)));
    await until('the admitted pulls to reach the handler', () => entered() === pullsInFlightPerPeerMax);
    const refused = await rawPull(client, request, credentialFor(caller, server.nodeId, pullPath));
    expect(refused.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(refused.details).toContain(`${pullsInFlightPerPeerMax} pulls in flight`);
    expect(refused.details).toContain(`pullsInFlightPerPeerMax ${pullsInFlightPerPeerMax}`);
    expect(refused.messages).toEqual([]);
    void held; // released by cleanup
  });

  it('queues pulls beyond the bound in the client instead of being refused', async () => {
    const { server, caller, members, entered, open } = await gatedServer();
    const transport = new GrpcPeerTransport({ allianceId, keyPair: caller.keyPair, members, announce: () => {} });
    cleanups.push(() => transport.close());
    const request = { author: Buffer.from(server.nodeId, 'hex'), afterSeq: 0n, upToSeq: 0n };
    const pulls = Array.from({ length: pullsInFlightPerPeerMax + 2 }, () => pullAll(transport.pullEntries(server.nodeId, request)));
    await until('the admitted pulls to reach the handler', () => entered() === pullsInFlightPerPeerMax);
    open();
    for (const result of await Promise.all(pulls)) expect(result).toHaveLength(1);
    expect(entered()).toBe(pullsInFlightPerPeerMax + 2);
  });

  it('abandons a pull stream that stays silent for pullIdleTimeoutMs', async () => {
    const { server, caller, members } = await gatedServer();
    const transport = new GrpcPeerTransport({ allianceId, keyPair: caller.keyPair, members, announce: () => {}, pullIdleTimeoutMs: 200 });
    cleanups.push(() => transport.close());
    const result = await pullAll(transport.pullEntries(server.nodeId, { author: Buffer.from(server.nodeId, 'hex'), afterSeq: 0n, upToSeq: 0n }));
    expect(result).toBeInstanceOf(PeerCallError);
    expect((result as PeerCallError).code).toBe(Status.DEADLINE_EXCEEDED);
  });

  it('stops producing while the receiver is busy, and stop() ends the stalled stream and frees the port', async () => {
    const [server, caller] = (await identities(2)) as [Identity, Identity];
    const members = membershipOf([server, caller]);
    const chunkCount = 400;
    const entry = Buffer.alloc(256 * 1024, 7);
    let produced = 0;
    const handler: PeerHandler = {
      nodeId: server.nodeId,
      handleExchangeHeads: async () => ({ heads: [], proofs: [] }),
      async *servePull() {
        for (; produced < chunkCount; produced++) yield { entries: [entry], head: { head: undefined, signature: Buffer.alloc(0) } };
      },
    };
    const peer = await startPeerServer({ listen: server.endpoint }, { replica: handler, members, allianceId, clock });
    cleanups.push(() => peer.stop());

    const call = rawClient(server.endpoint).pullEntries({ author: Buffer.from(server.nodeId, 'hex'), afterSeq: 0n, upToSeq: 0n }, credentialFor(caller, server.nodeId, pullPath));
    const ended = new Promise<Status>((resolve) => call.on('status', (s: { code: Status }) => resolve(s.code)));
    call.on('error', () => {}); // the status says how it ended
    await (call as AsyncIterable<PullEntriesResponse>)[Symbol.asyncIterator]().next(); // one message, then a receiver busy for good
    // Were writes to ignore backpressure, the handler would queue all chunks at once; with it, only what the
    // buffers on the way hold (~16 messages each side) is produced, however long we wait.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(produced).toBeLessThan(chunkCount / 4);

    await peer.stop(); // graceful shutdown cannot finish a stalled stream: it is cancelled after peerServerStopGraceMs
    expect(await ended).not.toBe(Status.OK);
    const producedAtStop = produced;
    expect(produced).toBe(producedAtStop); // the handler has left the generator
    const probe = createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(server.port, '127.0.0.1', () => resolve());
    });
    await new Promise((resolve) => probe.close(resolve));
  });
});

describe('a malicious peer serving forged ranges', () => {
  type Tamper = (entries: Buffer[], head: SignedHead, forger: Sm2KeyPair) => PullEntriesResponse[];
  const flipByte = (entry: Buffer): Buffer => {
    const copy = Buffer.from(entry);
    copy[copy.length - 3]! ^= 0x01;
    return copy;
  };
  const cases: Array<[string, Tamper, boolean]> = [
    ['honest (control)', (entries, head) => [{ entries, head }], true],
    ['a flipped byte', (entries, head) => [{ entries: entries.map((e, i) => (i === 4 ? flipByte(e) : e)), head }], false],
    ['a dropped entry', (entries, head) => [{ entries: entries.filter((_, i) => i !== 4), head }], false],
    ['two entries swapped', (entries, head) => [{ entries: [...entries.slice(0, 4), entries[5]!, entries[4]!, ...entries.slice(6)], head }], false],
    ['a truncated range under the full head', (entries, head) => [{ entries: entries.slice(0, 5), head }], false],
    ['a stream ending inside a chunk', (entries) => [{ entries: entries.slice(0, 5), head: undefined }], false],
    ['a head with an altered seq', (entries, head) => [{ entries: entries.slice(0, 5), head: { ...head, head: { ...head.head!, seq: 5n } } }], false],
    [
      "the author's head re-signed by the relay",
      (entries, head, forger) => [{ entries, head: { head: head.head, signature: sign(forger.privateKey, headSigningBytes(head.head!), forger.publicKey) } }],
      false,
    ],
  ];

  it.each(cases)('%s', async (_name, tamper, stored) => {
    // A writes (and is unreachable afterwards); M relays A's log, tampered; V learns A's real head from M and pulls.
    const ids = await identities(3);
    const [aId, vId, mId] = ids as [Identity, Identity, Identity];
    const members = membershipOf(ids);
    const aStore = new MemoryStore();
    const a = await Replica.open({ allianceId, keyPair: aId.keyPair, members }, { store: aStore, transport: new Bus().transport(aId.nodeId), clock, random: seededRandom(seed) });
    cleanups.push(() => a.close());
    await Promise.all(Array.from({ length: 10 }, (_, i) => a.write(entityRegistration(usccFor(100 + i)))));
    const head = (await aStore.latestHead(aId.nodeId))!;
    expect(head.head!.seq).toBe(10n);
    const entries = (await aStore.entries(aId.nodeId, 1, 10, 10)).map((e) => Buffer.from(e.bytes));

    const relay: PeerHandler = {
      nodeId: mId.nodeId,
      handleExchangeHeads: async () => ({ heads: [], proofs: [] }),
      async *servePull() {
        yield* tamper(entries, head, mId.keyPair);
      },
    };
    const server = await startPeerServer({ listen: mId.endpoint }, { replica: relay, members, allianceId, clock });
    cleanups.push(() => server.stop());

    const victim = await startNode(vId, members, 1, false);
    await victim.replica.handleExchangeHeads(mId.nodeId, { heads: [head], proofs: [] });
    // The victim pulls from M (who told it about the head), then from A (unreachable).
    await until('the pull from M and the fallback to A', () =>
      stored
        ? victim.events.some((e) => e.type === 'pull' && e.peer === mId.nodeId)
        : [mId.nodeId, aId.nodeId].every((peer) => victim.events.some((e) => e.type === 'pull' && e.peer === peer)),
    );

    if (stored) {
      expect(await entryBytes(victim, aId.nodeId, 10)).toEqual(entries);
      return;
    }
    expect(victim.events.filter((e) => e.type === 'pull' && e.ok)).toEqual([]);
    expect(victim.events.some((e) => e.type === 'rejected' && e.peer === mId.nodeId)).toBe(true);
    expect(victim.events.filter((e) => e.type === 'ingested' || e.type === 'equivocation')).toEqual([]);
    expect(await victim.store.latestHeads()).toEqual([]);
    expect(await victim.store.entries(aId.nodeId, 1, 10, 10)).toEqual([]);
    expect(await victim.store.stateRange('view/', 10)).toEqual([]);
    expect(victim.replica.logs().find((log) => log.nodeId === aId.nodeId)).toMatchObject({ storedSeq: 0, knownSeq: 10 });
  });
});
