import { runSimulation, simulationOptionsDefault } from '../simulations/scenarios.js';
import { Alliance } from '../simulations/alliance.js';
const orig = Alliance.prototype.replicaEvent;
let armed = false;
Alliance.prototype.replicaEvent = function (node: any, event: any) {
  if (event.type === 'equivocation' && !armed && node.honest) {
    armed = true;
    console.log(this.scheduler.now, node.label, 'arming death at the 2nd next commit');
    node.store.dieAtCommit(1, () => this.scheduler.after(0, () => { node.crash(); console.log('crashed', node.label); this.scheduler.after(1000, () => node.restart(false)); }));
  }
  return orig.call(this, node, event);
};
const r = await runSimulation({ ...simulationOptionsDefault, scenario: 'byzantine', byzantine: ['equivocate'], byzantineNodes: 1, nodes: 12, durationMs: 12000, seed: 'rb' });
console.log(r.report.invariant_violations, r.report.violations.slice(0, 5));
