import { describe, expect, test } from 'vitest';
import { Mesh, meshParamsDefault } from './mesh.js';
import { Prng } from '../../federation/testing/prng.js';

const { degreeLow, degreeHigh } = meshParamsDefault;
const cities = (n: number): string[] => Array.from({ length: n }, (_, i) => `city-${i}`);

/** Collects every violation, then asserts once (one expect per link is slow at 300 nodes). */
function expectHealthy(mesh: Mesh, seed: string): void {
  const problems: string[] = [];
  for (const node of mesh.nodes()) {
    const peers = mesh.neighbours(node);
    if (peers.length < degreeLow || peers.length > degreeHigh) problems.push(`degree of ${node} is ${peers.length}`);
    if (new Set(peers).size !== peers.length) problems.push(`duplicate link at ${node}`);
    if (peers.includes(node)) problems.push(`self link at ${node}`);
    for (const peer of peers) if (!mesh.neighbours(peer).includes(node)) problems.push(`asymmetric ${node}-${peer}`);
  }
  if (!mesh.isConnected()) problems.push('not connected');
  expect(problems, `seed ${seed}`).toEqual([]);
}

describe('Mesh', () => {
  test('300 nodes: degrees within [D_lo, D_hi], symmetric, connected', () => {
    for (const seed of ['mesh-1', 'mesh-2', 'mesh-3']) {
      console.log(`seed ${seed}`);
      const mesh = Mesh.build(cities(300), new Prng(seed));
      expectHealthy(mesh, seed);
      const meanDegree = mesh.nodes().reduce((sum, node) => sum + mesh.degree(node), 0) / mesh.size;
      expect(meanDegree).toBeGreaterThan(7.9);
      expect(meanDegree).toBeLessThan(9);
    }
  });

  test('same seed, same mesh; different seed, different mesh', () => {
    const edges = (mesh: Mesh): string[] => mesh.nodes().map((node) => `${node}:${mesh.neighbours(node).join(',')}`);
    expect(edges(Mesh.build(cities(100), new Prng('same')))).toEqual(edges(Mesh.build(cities(100), new Prng('same'))));
    expect(edges(Mesh.build(cities(100), new Prng('same')))).not.toEqual(edges(Mesh.build(cities(100), new Prng('other'))));
  });

  test('heals when a tenth of the nodes leave and when they return', () => {
    const seed = 'mesh-churn';
    console.log(`seed ${seed}`);
    const rng = new Prng(seed);
    const nodes = cities(300);
    const mesh = Mesh.build(nodes, rng.fork('build'));
    const leaving = rng.shuffle([...nodes]).slice(0, 30);
    for (const node of leaving) mesh.leave(node);
    expect(mesh.size).toBe(270);
    for (const node of leaving) expect(mesh.has(node)).toBe(false);
    expectHealthy(mesh, seed);
    for (const node of leaving) mesh.join(node);
    expect(mesh.size).toBe(300);
    expectHealthy(mesh, seed);
    expect(mesh.heartbeat()).toBe(0); // already within bounds: nothing to do
  });

  test('reconnects a mesh cut in two by departures', () => {
    // a ring-like small mesh: degree bounds 1..2, so removing two nodes splits it
    const params = { degreeTarget: 2, degreeLow: 1, degreeHigh: 3 };
    const mesh = Mesh.build(cities(12), new Prng('small'), params);
    for (const node of ['city-0', 'city-5', 'city-7']) mesh.leave(node);
    expect(mesh.isConnected()).toBe(true);
    for (const node of mesh.nodes()) expect(mesh.degree(node)).toBeGreaterThanOrEqual(1);
  });

  test('small alliances: fewer nodes than D still form a full, connected mesh', () => {
    const mesh = Mesh.build(cities(5), new Prng('tiny'));
    for (const node of mesh.nodes()) expect(mesh.degree(node)).toBe(4);
    expect(mesh.isConnected()).toBe(true);
  });
});
