import { expect } from 'vitest';
import { keyPairSigner } from '../../federation/evidence.js';
import type { TestCity } from '../../federation/governance/testing.js';
import { Membership } from '../../federation/membership.js';
import { Replica } from '../../federation/replica.js';
import { MemoryStore } from '../../federation/store/memory.js';
import { Bus } from '../../federation/testing/bus.js';
import { Prng } from '../../federation/testing/prng.js';
import { openPolicy } from '../../federation/views/policy.js';
import { startTestApi } from '../access/testing.js';
import type { Io } from './command.js';
import { main } from './main.js';

// Test support for CLI tests against real client APIs on 127.0.0.1: the
// founders' Replicas on an in-process bus, each with its API server, under a
// policy that trusts `rootDer`. Everything started is pushed onto `cleanups`,
// for the test's afterEach to stop, also when the test fails.

export interface Cities {
  /** Client API addresses, in founder order. */
  readonly addresses: string[];
  readonly replicas: Replica[];
}

export async function startCities(founders: readonly TestCity[], allianceId: Buffer, rootDer: Uint8Array, cleanups: Array<() => Promise<void> | void>): Promise<Cities> {
  const clock = { nowMs: () => Date.now() };
  const policy = { ...openPolicy, trustedRoots: () => [rootDer] };
  const members = founders.map((f) => ({ nodeId: f.nodeId, publicKey: f.keyPair.publicKey, city: f.city, regionCode: f.regionCode, endpoints: [] }));
  const bus = new Bus();
  const addresses: string[] = [];
  const replicas: Replica[] = [];
  for (const founder of founders) {
    const replica = await Replica.open(
      { allianceId, keyPair: founder.keyPair, members: new Membership(members), policy },
      { store: new MemoryStore(), transport: bus.transport(founder.nodeId), clock, random: new Prng('test').random() },
    );
    bus.replicas.set(founder.nodeId, replica);
    cleanups.push(() => replica.close());
    const server = await startTestApi({ replica, clock, freshnessBudgetMs: 3_600_000, city: founder.city, allianceId, startedAtMs: Date.now(), policy, signer: keyPairSigner(founder.keyPair) });
    cleanups.push(() => server.stop());
    addresses.push(`127.0.0.1:${server.port}`);
    replicas.push(replica);
  }
  return { addresses, replicas };
}

/** Waits until every replica stores as many entries of every log as the others (bounded: 10 s, then the test fails). */
export async function converged(cities: { readonly replicas: readonly Replica[] }): Promise<void> {
  const deadline = Date.now() + 10_000;
  const seqs = () => cities.replicas.map((r) => JSON.stringify(r.logs().map((l) => l.storedSeq)));
  while (new Set(seqs()).size > 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(new Set(seqs()).size).toBe(1);
}

/** `tongxing ARGS...` in-process, with what it printed and its stdout as JSON on demand. */
export async function tongxing(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string; json: () => any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  let stdout = '';
  let stderr = '';
  const io: Io = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), stdoutBytes: (b) => (stdout += Buffer.from(b).toString()) };
  const code = await main(argv, io);
  return { code, stdout, stderr, json: () => JSON.parse(stdout) };
}
