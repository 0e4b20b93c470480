// Peer security over real grpc-js on 127.0.0.1: TLS pinned to the members'
// recorded certificates, suspended members refused, the protocol revision
// rule and the per-member call rate.

import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { PeerServiceClient, PeerServiceService } from '../../gen/tongxing/federation/v1/peer.js';
import { generateKeyPair, nodeIdOf, type Sm2KeyPair } from '../../federation/crypto/sm2.js';
import { sm3 } from '../../federation/crypto/sm3.js';
import { LimitError } from '../../federation/errors.js';
import { peerCallsPerSecondMax } from '../limits.js';
import { Membership, type Member } from '../../federation/membership.js';
import { Replica } from '../../federation/replica.js';
import { MemoryStore } from '../../federation/store/memory.js';
import { entityRegistration, usccFor } from '../../federation/testing/records.js';
import { freePorts } from '../local-alliance.js';
import { GrpcPeerTransport } from './client.js';
import { CredentialIssuer, credentialMetadata, CredentialVerifier, peerChannelCredentials, protocolRevision } from './credential.js';
import { startPeerServer } from './server.js';
import { generateTlsIdentity, PeerTls, peerTlsChannelOptions, readTlsIdentity, writeTlsIdentity, type TlsIdentity } from './tls.js';
import { Prng } from '../../federation/testing/prng.js';

const allianceId = sm3(Buffer.from('tongxing tls test alliance'));
const clock = { nowMs: () => Date.now() };
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface City {
  readonly keyPair: Sm2KeyPair;
  readonly nodeId: string;
  readonly tls: TlsIdentity;
  readonly member: Member;
}

async function cities(count: number): Promise<City[]> {
  const ports = await freePorts(count);
  return Promise.all(
    ports.map(async (port, i) => {
      const keyPair = generateKeyPair();
      const tls = await generateTlsIdentity(`city-${i}`);
      const nodeId = nodeIdOf(keyPair.publicKey);
      return { keyPair, nodeId, tls, member: { nodeId, publicKey: keyPair.publicKey, city: `city-${i}`, regionCode: '530100', endpoints: [`127.0.0.1:${port}`], tlsCertificate: tls.certDer } };
    }),
  );
}

/** A serving replica over TLS; its membership is its own, so tests can change what it believes. */
async function serve(city: City, all: readonly City[]) {
  const members = new Membership(all.map((c) => c.member));
  const tls = new PeerTls(city.tls, members);
  const transport = new GrpcPeerTransport({ allianceId, keyPair: city.keyPair, members, announce: () => {}, tls });
  cleanups.push(() => transport.close());
  const replica = await Replica.open({ allianceId, keyPair: city.keyPair, members }, { store: new MemoryStore(), transport, clock, random: new Prng('test').random() });
  cleanups.push(() => replica.close());
  const server = await startPeerServer({ listen: city.member.endpoints[0]! }, { replica, members, allianceId, clock, tls });
  cleanups.push(() => server.stop());
  return { replica, members, transport };
}

/** One ExchangeHeads call from `caller`'s key, over a channel presenting `presenting`'s TLS identity. */
async function exchange(target: City, caller: Sm2KeyPair, presenting: TlsIdentity, revision = protocolRevision): Promise<{ code: Status; details: string }> {
  const members = new Membership([target.member]);
  const credentials = peerChannelCredentials(target.member, new PeerTls(presenting, members));
  const client = new PeerServiceClient(target.member.endpoints[0]!, credentials, peerTlsChannelOptions);
  cleanups.push(() => client.close());
  const issuer = new CredentialIssuer({ allianceId, keyPair: caller, protocolRevision: revision });
  const metadata = credentialMetadata(issuer.issue({ callee: target.nodeId, method: PeerServiceService.exchangeHeads.path, issuedAtMs: Date.now() }));
  return new Promise((resolve) => {
    client.exchangeHeads({ heads: [], proofs: [] }, metadata, { deadline: Date.now() + 10_000 }, (error) =>
      resolve(error ? { code: error.code, details: error.details } : { code: Status.OK, details: '' }),
    );
  });
}

describe('TLS identities', () => {
  it('are certificates Node parses back, with a positive serial that never starts with a zero byte', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tongxing-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    // A serial starting 0x00 0x0N is invalid DER and was once made about 1 time in 128.
    for (let i = 0; i < 200; i++) {
      const identity = await generateTlsIdentity(`city-${i}`);
      writeTlsIdentity(join(dir, 'node.tls.pem'), identity);
      const read = readTlsIdentity(join(dir, 'node.tls.pem'));
      const serial = new X509Certificate(read.certPem).serialNumber;
      expect(parseInt(serial.slice(0, 2), 16), serial).toBeGreaterThanOrEqual(0x40);
      expect(parseInt(serial.slice(0, 2), 16), serial).toBeLessThanOrEqual(0x7f);
    }
  });
});

describe('peer links over TLS', () => {
  it('replicate between members whose certificates the membership records', async () => {
    const [a, b] = await cities(2);
    const nodeA = await serve(a!, [a!, b!]);
    const nodeB = await serve(b!, [a!, b!]);
    await nodeA.replica.write(entityRegistration(usccFor(1)));
    await nodeB.replica.antiEntropyRound();
    await expect.poll(async () => Number((await nodeB.replica.store.latestHead(a!.nodeId))?.head?.seq ?? 0)).toBe(1);
  });

  it('refuses a client certificate the membership does not record (TLS handshake fails)', async () => {
    const [a, b] = await cities(2);
    await serve(a!, [a!, b!]);
    const stranger = await generateTlsIdentity('stranger');
    const answer = await exchange(a!, b!.keyPair, stranger);
    expect(answer.code).toBe(Status.UNAVAILABLE);
  });

  it("refuses a member's credential sent over another member's TLS link", async () => {
    const [a, b, c] = await cities(3);
    await serve(a!, [a!, b!, c!]);
    const answer = await exchange(a!, b!.keyPair, c!.tls);
    expect(answer).toMatchObject({ code: Status.PERMISSION_DENIED, details: expect.stringMatching(/TLS client certificate is not the one recorded/) });
  });

  it('accepts a server only with the certificate recorded for it', async () => {
    const [a, b] = await cities(2);
    await serve(a!, [a!, b!]);
    const impostor = { ...a!, member: { ...a!.member, tlsCertificate: (await generateTlsIdentity('impostor')).certDer } };
    const answer = await exchange(impostor, b!.keyPair, b!.tls);
    expect(answer.code).toBe(Status.UNAVAILABLE);
  });

  it('refuses a suspended member once the membership says so, without a restart', async () => {
    const [a, b] = await cities(2);
    const nodeA = await serve(a!, [a!, b!]);
    expect((await exchange(a!, b!.keyPair, b!.tls)).code).toBe(Status.OK);
    nodeA.members.replace([a!.member, { ...b!.member, status: 'suspended', cutoffHlc: 1n }]);
    // Its certificate left the trusted set too: the handshake itself now fails.
    expect((await exchange(a!, b!.keyPair, b!.tls)).code).toBe(Status.UNAVAILABLE);
  });

  it('interoperates with the adjacent protocol revision and refuses one two apart', async () => {
    const [a, b] = await cities(2);
    await serve(a!, [a!, b!]);
    expect((await exchange(a!, b!.keyPair, b!.tls, protocolRevision + 1)).code).toBe(Status.OK);
    expect(await exchange(a!, b!.keyPair, b!.tls, protocolRevision + 2)).toMatchObject({
      code: Status.PERMISSION_DENIED,
      details: expect.stringMatching(/more than one apart/),
    });
  });

  it(`refuses a member calling faster than peerCallsPerSecondMax (${peerCallsPerSecondMax}/s, burst twice that)`, async () => {
    const [a, b] = await cities(2);
    let now = Date.now();
    const verifier = new CredentialVerifier({ allianceId, nodeId: a!.nodeId }, { members: new Membership([a!.member, b!.member]), clock: { nowMs: () => now } });
    const issuer = new CredentialIssuer({ allianceId, keyPair: b!.keyPair });
    const call = () => verifier.verify(issuer.issue({ callee: a!.nodeId, method: PeerServiceService.exchangeHeads.path, issuedAtMs: now }), PeerServiceService.exchangeHeads.path);
    for (let i = 0; i < 2 * peerCallsPerSecondMax; i++) call();
    expect(call).toThrow(/calls faster than peerCallsPerSecondMax/);
    now += 1000 / peerCallsPerSecondMax; // one token back
    expect(call()).toBe(b!.nodeId);
    expect(call).toThrow(LimitError);
  });
});
