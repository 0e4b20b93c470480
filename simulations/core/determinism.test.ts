// A whole small simulation, run twice from one seed: the trace hash (every
// event time, every delivery and drop) and the final state must be identical,
// and a different seed must give a different run. Covers the sync path
// (plain callbacks) and the async path (handlers that await, as protocol code
// over a Promise-based Store does).

import { describe, expect, test } from 'vitest';
import { Mesh } from './mesh.js';
import { Network } from './network.js';
import { Prng } from '../../federation/testing/prng.js';
import { Scheduler } from './scheduler.js';
import { VirtualTimers } from './timers.js';

type Payload = { readonly kind: 'rumor'; readonly id: string } | { readonly kind: 'digest'; readonly count: number };

interface RunResult {
  readonly traceHash: string;
  readonly eventsProcessed: number;
  readonly state: string;
}

async function runWorkload(seed: string, mode: 'sync' | 'async', durationMs: number): Promise<RunResult> {
  const rng = new Prng(seed);
  const scheduler = new Scheduler();
  const network = new Network<Payload>({
    scheduler,
    rng: rng.fork('network'),
    linkConfig: { latencyMs: { kind: 'lognormal', median: 35, sigma: 0.4, min: 5, max: 300 }, lossProbability: 0.02, duplicateProbability: 0.01 },
  });
  const nodes = Array.from({ length: 30 }, (_, i) => `city-${i}`);
  const mesh = Mesh.build(nodes, rng.fork('mesh'));
  const known = new Map<string, Set<string>>();
  const timers = new Map<string, VirtualTimers>();
  const faults = rng.fork('faults');

  // an "await store.commit()" stand-in: a few microtask hops
  const persist = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) await Promise.resolve();
  };

  const start = (node: string): void => {
    const nodeRng = rng.fork(`node/${node}`);
    const seen = known.get(node) ?? new Set<string>();
    known.set(node, seen);
    const nodeTimers = timers.get(node) ?? new VirtualTimers(scheduler);
    timers.set(node, nodeTimers);
    let originated = 0;

    const learn = (id: string, from: string | undefined): void => {
      if (seen.has(id)) return;
      seen.add(id);
      for (const peer of mesh.neighbours(node)) if (peer !== from) network.send(node, peer, { kind: 'rumor', id }, 200);
    };
    const onMessage = (from: string, payload: Payload): void => {
      if (payload.kind !== 'rumor') return;
      if (mode === 'sync') learn(payload.id, from);
      else void persist().then(() => learn(payload.id, from));
    };
    network.attach(node, onMessage, (_from, request, reply) => {
      if (request.kind === 'digest') reply({ kind: 'digest', count: seen.size }, 16);
    });
    nodeTimers.setInterval(() => {
      if (nodeRng.chance(0.3)) learn(`${node}#${originated++}`, undefined);
      const peer = nodeRng.pick(nodes);
      if (peer !== node) {
        network.call(node, peer, { kind: 'digest', count: seen.size }, 16, 500, (result) => {
          scheduler.trace.mixString(result.ok ? `${node}<${peer}:${result.response.kind}` : `${node}<${peer}:timeout`);
        });
      }
    }, 100 + nodeRng.int(0, 100));
  };

  for (const node of nodes) start(node);

  // faults at random times
  scheduler.at(durationMs * 0.2, () => network.partition(nodes.slice(0, 15), nodes.slice(15)));
  scheduler.at(durationMs * 0.4, () => network.heal());
  for (let i = 0; i < 5; i++) {
    const victim = faults.pick(nodes);
    const atMs = faults.int(durationMs * 0.05, durationMs * 0.8);
    scheduler.at(atMs, () => {
      if (network.status(victim) !== 'up') return;
      if (faults.chance(0.5)) {
        network.pause(victim, faults.int(100, 1000));
        timers.get(victim)!.pause();
        scheduler.after(500, () => timers.get(victim)!.resume());
      } else {
        network.crash(victim);
        timers.get(victim)!.clearAll();
        scheduler.after(faults.int(200, 2000), () => start(victim));
      }
    });
  }

  if (mode === 'sync') scheduler.runUntil(durationMs);
  else await scheduler.runUntilAsync(durationMs);

  const state = nodes.map((node) => `${node}:${known.get(node)!.size}:${network.counters(node).messagesReceived}`).join(' ');
  return { traceHash: scheduler.traceHash(), eventsProcessed: scheduler.eventsProcessed, state };
}

describe('determinism', () => {
  // the async runner pays one macrotask per event, so it gets a shorter run
  for (const [mode, durationMs] of [['sync', 10_000], ['async', 2_000]] as const) {
    test(`${mode}: same seed, same run; different seed, different run`, async () => {
      const seed = `determinism-${mode}`;
      console.log(`seed ${seed}`);
      const first = await runWorkload(seed, mode, durationMs);
      const second = await runWorkload(seed, mode, durationMs);
      expect(second).toEqual(first);
      expect(first.eventsProcessed).toBeGreaterThan(5_000);
      const other = await runWorkload(`${seed}-other`, mode, durationMs);
      expect(other.traceHash).not.toBe(first.traceHash);
      console.log(`${mode}: ${first.eventsProcessed} events, trace ${first.traceHash}`);
    });
  }
});
