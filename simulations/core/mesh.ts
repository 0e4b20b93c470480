// A degree-bounded random overlay in the manner of gossipsub's mesh: every node
// keeps between degreeLow and degreeHigh symmetric links, aiming at degreeTarget,
// and the whole overlay stays connected.
//
// Rules (applied by build, join, leave and heartbeat):
// - a node below degreeLow grafts random peers until it has degreeTarget,
//   choosing peers below degreeTarget first, then any below degreeHigh;
// - a node above degreeHigh prunes random peers (that stay at or above
//   degreeLow) down to degreeTarget;
// - if the overlay falls apart, each smaller component is bridged to the
//   largest by one link between random nodes.
// Every choice comes from the Prng, so a mesh is a function of its seed and
// the sequence of operations. Iteration order is insertion order, never hash order.

import { AssertionError, assert } from '../../federation/errors.js';
import type { NodeId } from './network.js';
import type { Prng } from '../../federation/testing/prng.js';

export interface MeshParams {
  /** gossipsub D */
  readonly degreeTarget: number;
  /** gossipsub D_lo */
  readonly degreeLow: number;
  /** gossipsub D_hi */
  readonly degreeHigh: number;
}

/** gossipsub v1.1 defaults. */
export const meshParamsDefault: MeshParams = { degreeTarget: 8, degreeLow: 6, degreeHigh: 12 };

const samplingTries = 24; // random picks before falling back to a full scan

export class Mesh {
  private readonly adjacency = new Map<NodeId, NodeId[]>();
  private readonly members: NodeId[] = [];

  constructor(
    private readonly rng: Prng,
    readonly params: MeshParams = meshParamsDefault,
  ) {
    assert(
      0 < params.degreeLow && params.degreeLow <= params.degreeTarget && params.degreeTarget <= params.degreeHigh,
      `mesh degrees must satisfy 0 < low <= target <= high, got ${params.degreeLow}, ${params.degreeTarget}, ${params.degreeHigh}`,
    );
  }

  /** A fresh, connected mesh over `nodes`. */
  static build(nodes: readonly NodeId[], rng: Prng, params: MeshParams = meshParamsDefault): Mesh {
    const mesh = new Mesh(rng, params);
    for (const node of nodes) mesh.add(node);
    const order = rng.shuffle([...nodes]);
    for (const node of order) mesh.graft(node, params.degreeTarget, params.degreeTarget);
    for (const node of order) if (mesh.degree(node) < params.degreeLow) mesh.graft(node, params.degreeTarget, params.degreeHigh);
    mesh.ensureConnected();
    return mesh;
  }

  get size(): number {
    return this.members.length;
  }

  has(node: NodeId): boolean {
    return this.adjacency.has(node);
  }

  /** Live view: do not mutate; it changes when the mesh does. */
  neighbours(node: NodeId): readonly NodeId[] {
    const peers = this.adjacency.get(node);
    if (peers === undefined) throw new AssertionError(`${node} is not in the mesh`);
    return peers;
  }

  degree(node: NodeId): number {
    return this.neighbours(node).length;
  }

  /** Members in the order they joined. */
  nodes(): readonly NodeId[] {
    return this.members;
  }

  /** A node (new or returning) joins and grafts degreeTarget peers. */
  join(node: NodeId): void {
    this.add(node);
    this.graft(node, this.params.degreeTarget, this.params.degreeTarget);
    this.graft(node, this.params.degreeTarget, this.params.degreeHigh);
    this.ensureConnected();
  }

  /** A node leaves (crash or removal); peers left below degreeLow graft at once. */
  leave(node: NodeId): void {
    const peers = [...this.neighbours(node)];
    for (const peer of peers) this.unlink(node, peer);
    this.adjacency.delete(node);
    this.members.splice(this.members.indexOf(node), 1);
    for (const peer of peers) this.repair(peer);
    this.ensureConnected();
  }

  /** One maintenance round over every node, in join order. Returns the links added plus removed. */
  heartbeat(): number {
    let changes = 0;
    for (const node of this.members) changes += this.repair(node);
    return changes + this.ensureConnected();
  }

  /** Components in join order of their first member. */
  components(): NodeId[][] {
    const seen = new Set<NodeId>();
    const components: NodeId[][] = [];
    for (const start of this.members) {
      if (seen.has(start)) continue;
      seen.add(start);
      const component = [start];
      for (let i = 0; i < component.length; i++) {
        for (const peer of this.adjacency.get(component[i]!)!) {
          if (seen.has(peer)) continue;
          seen.add(peer);
          component.push(peer);
        }
      }
      components.push(component);
    }
    return components;
  }

  isConnected(): boolean {
    return this.components().length <= 1;
  }

  private add(node: NodeId): void {
    assert(!this.adjacency.has(node), `${node} is already in the mesh`);
    this.adjacency.set(node, []);
    this.members.push(node);
  }

  private repair(node: NodeId): number {
    const { degreeLow, degreeTarget, degreeHigh } = this.params;
    const degree = this.degree(node);
    if (degree < degreeLow) return this.graft(node, degreeTarget, degreeTarget) + this.graft(node, degreeTarget, degreeHigh);
    if (degree > degreeHigh) return this.prune(node, degreeTarget);
    return 0;
  }

  /** Links `node` to random non-neighbours whose degree is below peerDegreeBelow, until it has `degreeWanted`. */
  private graft(node: NodeId, degreeWanted: number, peerDegreeBelow: number): number {
    const peers = this.adjacency.get(node)!;
    const eligible = (peer: NodeId): boolean =>
      peer !== node && this.adjacency.get(peer)!.length < peerDegreeBelow && !peers.includes(peer);
    let added = 0;
    while (peers.length < degreeWanted) {
      let chosen: NodeId | undefined;
      for (let i = 0; i < samplingTries && chosen === undefined; i++) {
        const peer = this.rng.pick(this.members);
        if (eligible(peer)) chosen = peer;
      }
      if (chosen === undefined) {
        const candidates = this.members.filter(eligible);
        if (candidates.length === 0) break;
        chosen = this.rng.pick(candidates);
      }
      this.link(node, chosen);
      added++;
    }
    return added;
  }

  /** Unlinks random peers that can spare a link (degree > degreeLow) until `node` has `degreeWanted`. */
  private prune(node: NodeId, degreeWanted: number): number {
    const peers = this.adjacency.get(node)!;
    const spare = this.rng.shuffle(peers.filter((peer) => this.degree(peer) > this.params.degreeLow));
    let removed = 0;
    for (const peer of spare) {
      if (peers.length <= degreeWanted) break;
      this.unlink(node, peer);
      removed++;
    }
    return removed;
  }

  /** Bridges every smaller component to the largest; returns the links added. */
  private ensureConnected(): number {
    const components = this.components();
    if (components.length <= 1) return 0;
    let main = components[0]!;
    for (const component of components) if (component.length > main.length) main = component;
    let added = 0;
    for (const component of components) {
      if (component === main) continue;
      const from = this.pickBridgeEnd(component);
      const to = this.pickBridgeEnd(main);
      this.link(from, to);
      main.push(...component);
      added++;
    }
    return added;
  }

  private pickBridgeEnd(component: readonly NodeId[]): NodeId {
    const open = component.filter((node) => this.degree(node) < this.params.degreeHigh);
    return this.rng.pick(open.length > 0 ? open : component);
  }

  private link(a: NodeId, b: NodeId): void {
    this.adjacency.get(a)!.push(b);
    this.adjacency.get(b)!.push(a);
  }

  private unlink(a: NodeId, b: NodeId): void {
    const peersA = this.adjacency.get(a)!;
    const peersB = this.adjacency.get(b)!;
    peersA.splice(peersA.indexOf(b), 1);
    peersB.splice(peersB.indexOf(a), 1);
  }
}
