import { Server, ServerCredentials } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPair, nodeIdOf, type Sm2KeyPair } from '../../federation/crypto/sm2.js';
import { Membership, type Member } from '../../federation/membership.js';
import { Replica } from '../../federation/replica.js';
import { MemoryStore } from '../../federation/store/memory.js';
import { expertAvailabilityRecord, expertProfileRecord } from '../../federation/testing/records.js';
import { freePorts } from '../local-alliance.js';
import { CredentialVerifier } from './credential.js';
import { addEvaluationPeerService, EvaluationPeerClient, LeaseCallError, LeaseDesk } from './evaluation.js';
import { Prng } from '../../federation/testing/prng.js';

// The lease RPC over real gRPC on 127.0.0.1: a home node (Nanning) serving
// EvaluationPeerService, hosts calling it with their member credentials.

const allianceId = Buffer.alloc(32, 0x21);
const hourMs = 3_600_000;
const t0 = Date.UTC(2030, 0, 10, 1);
const clock = { nowMs: () => Date.now() };
let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function homeNode(): Promise<{ replica: Replica; members: Membership; hosts: Sm2KeyPair[]; home: string; stranger: Sm2KeyPair }> {
  const keys = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const [port] = await freePorts(1);
  const members = new Membership(
    keys.map((key, i): Member => ({ nodeId: nodeIdOf(key.publicKey), publicKey: key.publicKey, city: ['Nanning', 'Kunming', 'Guiyang'][i]!, regionCode: '450100', endpoints: [`127.0.0.1:${port}`] })),
  );
  const home = nodeIdOf(keys[0]!.publicKey);
  const replica = await Replica.open(
    { allianceId, keyPair: keys[0]!, members },
    { store: new MemoryStore(), transport: { exchangeHeads: async () => ({ heads: [], proofs: [] }), pullEntries: async function* () {}, announce: () => {} }, clock, random: new Prng('test').random() },
  );
  cleanups.push(() => replica.close());
  await replica.write(expertProfileRecord('e.1'));
  await replica.write(expertAvailabilityRecord('e.1', [[t0 - 24 * hourMs, t0 + 24 * hourMs]]));
  const server = new Server();
  addEvaluationPeerService(server, { desk: new LeaseDesk(replica), verifier: new CredentialVerifier({ allianceId, nodeId: home }, { members, clock }) });
  await new Promise<void>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  cleanups.push(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  return { replica, members, hosts: keys.slice(1), home, stranger: generateKeyPair() };
}

function client(members: Membership, keyPair: Sm2KeyPair): EvaluationPeerClient {
  const c = new EvaluationPeerClient({ allianceId, keyPair, members });
  cleanups.push(() => c.close());
  return c;
}

const ask = (sessionId: string, fromMs = t0) => ({ sessionId, expertRef: 'e.1', slot: { fromMs, untilMs: fromMs + 4 * hourMs }, projectCode: 'P-1' });

describe('EvaluationPeerService.RequestLease', () => {
  it('two hosts asking for one expert at once: exactly one grant, one refusal, both written in the home log', async () => {
    const { replica, members, hosts, home } = await homeNode();
    const [a, b] = await Promise.all([client(members, hosts[0]!).requestLease(home, ask('KM-1')), client(members, hosts[1]!).requestLease(home, ask('GY-1', t0 + hourMs))]);
    expect([a.granted, b.granted].sort()).toEqual([false, true]);
    const refusal = a.granted ? b : a;
    expect(refusal.refusalReason).toMatch(/already leased for an overlapping slot/);
    expect(refusal.leaseSeq).toBeGreaterThan(2);
    const log = await replica.store.entries(home, 1, 100, 100);
    expect(log).toHaveLength(4); // profile, availability, one grant, one refusal

    // The same request again answers the same grant, writing nothing.
    const winner = a.granted ? hosts[0]! : hosts[1]!;
    const again = await client(members, winner).requestLease(home, a.granted ? ask('KM-1') : ask('GY-1', t0 + hourMs));
    expect(again).toEqual(a.granted ? a : b);
    expect(await replica.store.entries(home, 1, 100, 100)).toHaveLength(4);
  });

  it('refuses callers that are not members, and answers NOT_FOUND for an unknown expert', async () => {
    const { members, hosts, home, stranger } = await homeNode();
    // The stranger claims a member's endpoint but signs with its own key: the credential names a non-member caller.
    const error = await client(members, stranger).requestLease(home, ask('X-1')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LeaseCallError);
    expect((error as LeaseCallError).message).toMatch(/PERMISSION_DENIED/);
    const unknown = await client(members, hosts[0]!).requestLease(home, { ...ask('KM-2'), expertRef: 'e.nobody' }).catch((e: unknown) => e);
    expect((unknown as LeaseCallError).message).toMatch(/NOT_FOUND/);
    const invalid = await client(members, hosts[0]!).requestLease(home, { ...ask('KM-3'), slot: { fromMs: t0, untilMs: t0 } }).catch((e: unknown) => e);
    expect((invalid as LeaseCallError).message).toMatch(/INVALID_ARGUMENT.*slot\.untilMs/);
  });
});
