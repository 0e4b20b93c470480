import { runSimulation, simulationOptionsDefault } from '../simulations/scenarios.js';
import { Alliance } from '../simulations/alliance.js';
import { EquivocationProof } from '../gen/tongxing/log/v1/log.js';
const orig = Alliance.prototype.replicaEvent;
let done = false;
Alliance.prototype.replicaEvent = function (node: any, event: any) {
  if (event.type === 'equivocation' && !done) {
    done = true;
    const at = this.scheduler.now;
    void node.store.disk.getState(`proof/${event.author}`).then((b: any) => {
      const p = EquivocationProof.decode(b);
      const show = (h: any) => h && ({ seq: h.head.seq, signedAt: Number(h.head.signedAtMs) - 1767574800000, hash: h.head.entryHash.toString('hex').slice(0, 8) });
      console.log(at, node.label, show(p.first), show(p.second), p.chain.length);
    });
  }
  if (event.type === 'pull' || event.type === 'ingested') { if (this.scheduler.now > 20500 && this.scheduler.now < 20610 && event.author.startsWith('4ab5')) console.log(this.scheduler.now, node.label, JSON.stringify(event).slice(0, 200)); }
  return orig.call(this, node, event);
};
const r = await runSimulation({ ...simulationOptionsDefault, scenario: 'byzantine', byzantine: ['equivocate-quiet'], nodes: 20, durationMs: 20000 });
console.log(r.report.invariant_violations, r.report.faults);
