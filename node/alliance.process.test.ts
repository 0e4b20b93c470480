import { status as grpcStatus } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Verdict } from '../gen/tongxing/api/v1/api.js';
import { generateKeyPair, nodeIdOf } from '../federation/crypto/sm2.js';
import { verifyRange } from '../federation/log/verify.js';
import { Membership } from '../federation/membership.js';
import { entityProfile, sanction, usccFor } from '../federation/testing/records.js';
import { connectApi, type ApiClient } from './api/client.js';
import { loadGenesis } from './genesis-file.js';
import { startLocalAlliance, type LocalAlliance } from './local-alliance.js';
import { GrpcPeerTransport } from './peer/client.js';
import { generateTlsIdentity, PeerTls } from './peer/tls.js';
import { LevelStore } from './store/level.js';
import { join } from 'node:path';
import { eventually } from '../federation/testing/eventually.js';

// Real node processes (bin/tongxing.js from dist/: `make test` builds first)
// with real LevelDB, gRPC and libp2p on 127.0.0.1. Conditions are awaited
// with deadlines; nothing asserts on how long anything took.

let alliance: LocalAlliance | undefined;
const clients: ApiClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await alliance?.stop();
  alliance = undefined;
});

function api(i: number): ApiClient {
  const client = connectApi(alliance!.cities[i]!.apiAddress);
  clients.push(client);
  return client;
}

/** Each member's stored seq as seen by node i. */
async function storedSeqs(client: ApiClient): Promise<Record<string, bigint>> {
  const status = await client.getStatus();
  return Object.fromEntries(status.members.map((m) => [Buffer.from(m.nodeId).toString('hex'), m.storedSeq]));
}

async function converged(clientsToCheck: ApiClient[]): Promise<boolean> {
  const views = await Promise.all(clientsToCheck.map(storedSeqs));
  return views.every((v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x)) === JSON.stringify(views[0], (_, x) => (typeof x === 'bigint' ? x.toString() : x)));
}

async function registerMany(client: ApiClient, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, from + count - i) }, (_, j) => client.registerEntity(entityProfile(usccFor(i + j)))));
  }
}

describe('an alliance of node processes', () => {
  it('converges: records written at two cities reach every city, and a sanction is enforced everywhere', async () => {
    alliance = await startLocalAlliance({ cities: 3 });
    const [a, b, c] = [api(0), api(1), api(2)];
    await registerMany(a, 0, 300);
    const uscc = usccFor(7);
    await b.issueSanction(sanction('GY-1', uscc, Date.now() - 1000));
    await eventually('convergence', async () => (await converged([a, b, c])) && (await storedSeqs(c))[alliance!.cities[0]!.nodeId] === 300n);
    const check = await c.checkSanctions(uscc);
    expect(check.verdict).toBe(Verdict.VERDICT_RESTRICTED);
    expect(check.sanctions.map((s) => s.issued?.authorCity)).toEqual([alliance.cities[1]!.city]);
    expect((await c.getEntity(uscc)).home?.authorCity).toBe(alliance.cities[0]!.city);
  });

  it('a node killed during replication and restarted catches up with nothing lost or duplicated', async () => {
    alliance = await startLocalAlliance({ cities: 3 });
    const [a, b] = [api(0), api(1)];
    const writing = registerMany(a, 0, 6000);
    // Kill C (SIGKILL: nothing flushed, nothing closed) once it has stored some of A's log.
    await eventually('C storing part of the log', async () => ((await storedSeqs(api(2)))[alliance!.cities[0]!.nodeId] ?? 0n) > 0n);
    await alliance.nodes[2]!.kill();
    await writing;
    await registerMany(a, 6000, 1000);
    await alliance.start(2);
    const c = api(2);
    await eventually('C caught up', async () => (await converged([a, b, c])) && (await storedSeqs(c))[alliance!.cities[0]!.nodeId] === 7000n);
    await alliance.nodes[2]!.stop();

    // C's log of A, read from its LevelDB: every seq once, chained, signed.
    const store = await LevelStore.open(join(alliance.cities[2]!.dataDir, 'store'));
    try {
      const authorId = alliance.cities[0]!.nodeId;
      const genesis = loadGenesis(alliance.genesisFile);
      const publicKey = genesis.body.founders.find((m) => nodeIdOf(m.publicKey) === authorId)!.publicKey;
      const allianceId = genesis.allianceId;
      const head = (await store.latestHead(authorId))!;
      expect(head.head!.seq).toBe(7000n);
      let tip = { seq: 0, hash: Buffer.alloc(32) as Uint8Array };
      for (let seq = 1; seq <= 7000; ) {
        const chunkHead = (await store.headAtOrBefore(authorId, Math.min(7000, seq + 1999)))!;
        const entries = await store.entries(authorId, seq, Number(chunkHead.head!.seq), 2000);
        const verified = verifyRange({ allianceId, publicKey, signedHead: chunkHead, tip, entries: entries.map((e) => e.bytes) });
        tip = { seq: Number(chunkHead.head!.seq), hash: verified.head.entryHash };
        seq = tip.seq + 1;
      }
      expect(tip.seq).toBe(7000);
    } finally {
      await store.close();
    }
  });

  it('a node with gossip off still converges through anti-entropy', async () => {
    alliance = await startLocalAlliance({ cities: 3, tweak: (i, config) => void (i === 2 && (config.gossip.listen = '')) });
    const [a, , c] = [api(0), api(1), api(2)];
    await registerMany(a, 0, 50);
    await eventually('C has A’s records without gossip', async () => (await storedSeqs(c))[alliance!.cities[0]!.nodeId] === 50n);
    expect((await c.getEntity(usccFor(49))).found).toBe(true);
  });

  it('refuses a non-member on the peer service: its TLS certificate is in no membership record', async () => {
    alliance = await startLocalAlliance({ cities: 3 });
    const genesis = loadGenesis(alliance.genesisFile);
    const outsider = generateKeyPair();
    const target = alliance.cities[0]!;
    const members = new Membership([
      { nodeId: target.nodeId, publicKey: genesis.body.founders[0]!.publicKey, city: target.city, regionCode: target.regionCode, endpoints: [target.peerAddress], tlsCertificate: genesis.body.founders[0]!.tlsCertificate },
      { nodeId: nodeIdOf(outsider.publicKey), publicKey: outsider.publicKey, city: 'Outsider', regionCode: '110100', endpoints: [] },
    ]);
    const tls = new PeerTls(await generateTlsIdentity('Outsider'), members);
    const transport = new GrpcPeerTransport({ allianceId: genesis.allianceId, keyPair: outsider, members, announce: () => {}, tls, callTimeoutMs: 5_000, pullIdleTimeoutMs: 5_000 });
    try {
      const refused = await transport.exchangeHeads(target.nodeId, { heads: [], proofs: [] }).then(
        () => undefined,
        (error: { code?: number }) => error.code,
      );
      expect(refused).toBe(grpcStatus.UNAVAILABLE);
      const pulled: unknown[] = [];
      const pull = (async () => {
        for await (const chunk of transport.pullEntries(target.nodeId, { author: Buffer.from(target.nodeId, 'hex'), afterSeq: 0n, upToSeq: 0n })) pulled.push(chunk);
      })();
      await expect(pull).rejects.toMatchObject({ code: grpcStatus.UNAVAILABLE });
      expect(pulled).toEqual([]);
    } finally {
      transport.close();
    }
  });
});
