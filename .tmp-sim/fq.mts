import { runSimulation, simulationOptionsDefault, soakOptions } from '../simulations/scenarios.js';
import { Alliance } from '../simulations/alliance.js';
import { EquivocationProof } from '../gen/tongxing/log/v1/log.js';
import { decodeEntry } from '../federation/log/entry.js';
const orig = Alliance.prototype.replicaEvent;
let done = false;
Alliance.prototype.replicaEvent = function (node: any, event: any) {
  if (event.type === 'equivocation' && !done) {
    done = true;
    const at = this.scheduler.now;
    void node.store.disk.getState(`proof/${event.author}`).then((b: any) => {
      const p = EquivocationProof.decode(b);
      const show = (h: any) => h && ({ seq: h.head.seq, signedAt: Number(h.head.signedAtMs) - 1767574800000, hash: h.head.entryHash.toString('hex').slice(0, 8) });
      console.log(at, node.label, 'author', this.node(event.author).label, show(p.first), show(p.second), p.chain.map((c: any) => JSON.stringify(decodeEntry(c).entry.record).slice(0, 100)));
    });
  }
  if (this.scheduler.now < 5300 && (node.label === 'city-010' || node.label === 'city-016') && (event.author === undefined ? true : this.node(event.author).label === 'city-016')) console.log(this.scheduler.now, node.label, JSON.stringify(event).slice(0, 250));
  return orig.call(this, node, event);
};
const r = await runSimulation(soakOptions(simulationOptionsDefault, '22', new Set()));
console.log(r.report.invariant_violations, r.report.faults, r.report.byzantine);
