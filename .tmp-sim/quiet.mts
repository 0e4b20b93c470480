import { runSimulation, simulationOptionsDefault } from '../simulations/scenarios.js';
const orig = (await import('../simulations/alliance.js')).Alliance.prototype.replicaEvent;
(await import('../simulations/alliance.js')).Alliance.prototype.replicaEvent = function (node: any, event: any) {
  if (event.type === "equivocation" && !(globalThis as any).done) { (globalThis as any).done = 1; console.log(this.scheduler.now, node.label, new Error().stack); }
  return orig.call(this, node, event);
};
const r = await runSimulation({ ...simulationOptionsDefault, scenario: 'byzantine', byzantine: ['equivocate-quiet'], nodes: 20, durationMs: 20000 });
console.log(r.report.invariant_violations);
