// Named scenarios: what an alliance is asked to do (writes at a steady rate
// from random honest nodes) and which faults it suffers, all drawn from the
// seed. Every fault stops by 80% of the active phase; the active phase is
// followed by a quiet wait until every honest node holds every honest record
// (or settleMsMax runs out), and then the final invariant checks.
//
//   steady          link latency and loss only
//   partition-heal  the alliance split in two halves, then healed; heal_ms measured
//   crash-restart   nodes crash (between events or at a commit boundary) and restart
//                   on their disk, some losing their last unsynced commit; nodes pause
//   byzantine       members forging, replaying, equivocating, withholding, flooding
//                   (--crash-in-rebuild: an honest node dies inside the view rebuild a proof starts)
//   soak            per seed, a random alliance size, link model and mix of all faults

import type { Record as TongxingRecord } from '../gen/tongxing/records/v1/records.js';
import { assert } from '../federation/errors.js';
import { entityRegistration, lift, sanction as sanctionBody, usccFor } from '../federation/testing/records.js';
import { Alliance, allianceConfigDefault, type SimNode } from './alliance.js';
import { byzantineBehaviours, byzantineBehavioursDefault, misbehaviour, type ByzantineBehaviour } from './byzantine.js';
import { Prng, type Distribution } from './core/index.js';
import { gossipParamsDefault } from './gossip.js';
import { InvariantChecker } from './invariants.js';
import { dissemination, finite, healCoverage, percentile, RecordTracker, type HealCoverage, type RunReport } from './report.js';

export const scenarioNames = ['steady', 'partition-heal', 'crash-restart', 'byzantine', 'soak'] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export interface SimulationOptions {
  readonly scenario: ScenarioName;
  readonly seed: string;
  readonly nodes: number;
  readonly loss: number;
  readonly duplicate: number;
  readonly latencyMinMs: number;
  readonly latencyMaxMs: number;
  /** The active phase: writes and faults. */
  readonly durationMs: number;
  /** Longest wait after the active phase for the alliance to converge. */
  readonly settleMsMax: number;
  /** Honest writes per second, alliance-wide (a Poisson process). */
  readonly writesPerSecond: number;
  readonly beaconIntervalMs: number;
  readonly antiEntropyIntervalMs: number;
  readonly floodPublish: boolean;
  /** Behaviours of the Byzantine members (byzantine scenario; soak draws its own). */
  readonly byzantine: readonly ByzantineBehaviour[];
  /** How many Byzantine members (0: one per behaviour, or 5% of the alliance if more). */
  readonly byzantineNodes: number;
  /** How long the partition-heal scenario keeps the halves apart. */
  readonly partitionMs: number;
  /** byzantine: an honest node crashes in the middle of the view rebuild an equivocation proof starts (soak draws it). */
  readonly crashInRebuild: boolean;
}

export const simulationOptionsDefault: SimulationOptions = {
  scenario: 'steady',
  seed: '1',
  nodes: 100,
  loss: 0.01,
  duplicate: 0,
  latencyMinMs: 20,
  latencyMaxMs: 60,
  durationMs: 60_000,
  settleMsMax: 60_000,
  writesPerSecond: 10,
  beaconIntervalMs: allianceConfigDefault.beaconIntervalMs,
  antiEntropyIntervalMs: allianceConfigDefault.antiEntropyIntervalMs,
  floodPublish: false,
  byzantine: byzantineBehavioursDefault,
  byzantineNodes: 0,
  partitionMs: 20_000,
  crashInRebuild: false,
};

/** The faults of one run, all at virtual times (ms). */
export interface FaultPlan {
  readonly partitions: Array<{ readonly atMs: number; readonly healAtMs: number; readonly kind: 'halves' | 'isolate' | 'one-way' }>;
  readonly crashes: Array<{ readonly atMs: number; readonly node: number; readonly downMs: number; readonly loseLastCommit: boolean; readonly atCommit: number | undefined }>;
  readonly pauses: Array<{ readonly atMs: number; readonly node: number; readonly durationMs: number }>;
  readonly slowNodes: Array<{ readonly atMs: number; readonly untilMs: number; readonly node: number }>;
  readonly byzantine: Array<{ readonly node: number; readonly behaviour: ByzantineBehaviour }>;
  /** This honest node dies at the second commit after it first records an equivocation proof (inside the view rebuild). */
  rebuildCrash: { readonly node: number; readonly downMs: number } | undefined;
}

export interface RunResult {
  readonly report: RunReport;
  readonly options: SimulationOptions;
  readonly tracker: RecordTracker;
  readonly checker: InvariantChecker;
  readonly alliance: Alliance;
  readonly heal: HealCoverage | undefined;
}

/** Soak: what one seed draws, on top of the command line's options. */
export function soakOptions(base: SimulationOptions, seed: string, explicit: ReadonlySet<string>): SimulationOptions {
  const rng = new Prng(seed).fork('soak');
  const draw = <T>(name: string, value: T): T => (explicit.has(name) ? (base as unknown as Record<string, T>)[name]! : value);
  return {
    ...base,
    scenario: 'soak',
    seed,
    nodes: draw('nodes', rng.int(12, 41)),
    loss: draw('loss', rng.pick([0, 0, 0.01, 0.05, 0.1, 0.2])),
    duplicate: draw('duplicate', rng.pick([0, 0, 0.02])),
    latencyMinMs: draw('latencyMinMs', rng.pick([5, 20, 20])),
    latencyMaxMs: draw('latencyMaxMs', rng.pick([60, 60, 150])),
    durationMs: draw('durationMs', rng.int(12, 31) * 1000),
    writesPerSecond: draw('writesPerSecond', rng.pick([2, 5, 10, 20])),
    beaconIntervalMs: draw('beaconIntervalMs', rng.pick([5000, 10_000])),
  };
}

function planFaults(options: SimulationOptions): FaultPlan {
  const rng = new Prng(options.seed).fork('faults');
  const n = options.nodes;
  const d = options.durationMs;
  const faultsEndMs = Math.round(0.8 * d);
  const plan: FaultPlan = { partitions: [], crashes: [], pauses: [], slowNodes: [], byzantine: [], rebuildCrash: undefined };
  const randomNode = (exclude: ReadonlySet<number>): number | undefined => {
    const candidates = Array.from({ length: n }, (_, i) => i).filter((i) => !exclude.has(i));
    return candidates.length === 0 ? undefined : rng.pick(candidates);
  };
  const byzantineNodes = new Set<number>();
  const addByzantine = (behaviours: readonly ByzantineBehaviour[], count: number): void => {
    for (let i = 0; i < count && byzantineNodes.size < n - 2; i++) {
      const node = randomNode(byzantineNodes)!;
      byzantineNodes.add(node);
      plan.byzantine.push({ node, behaviour: behaviours[i % behaviours.length]! });
    }
  };
  const addCrashes = (count: number): void => {
    for (let i = 0; i < count; i++) {
      const node = randomNode(byzantineNodes);
      if (node === undefined) return;
      const atMs = Math.round(rng.uniform(0.1 * d, 0.6 * d));
      const downMs = Math.round(Math.min(rng.uniform(500, 10_000), faultsEndMs - atMs));
      const atCommit = rng.chance(0.3) ? rng.int(0, 4) : undefined;
      plan.crashes.push({ atMs, node, downMs, loseLastCommit: rng.chance(0.5), atCommit });
    }
  };
  const addPauses = (count: number): void => {
    for (let i = 0; i < count; i++) {
      const node = randomNode(byzantineNodes);
      if (node === undefined) return;
      const atMs = Math.round(rng.uniform(0.1 * d, 0.7 * d));
      plan.pauses.push({ atMs, node, durationMs: Math.round(Math.min(rng.uniform(200, 5000), faultsEndMs - atMs)) });
    }
  };
  switch (options.scenario) {
    case 'steady':
      break;
    case 'partition-heal': {
      const atMs = Math.min(5000, 0.2 * d);
      plan.partitions.push({ atMs, healAtMs: Math.round(Math.min(atMs + options.partitionMs, faultsEndMs)), kind: 'halves' });
      break;
    }
    case 'crash-restart':
      addCrashes(Math.max(2, Math.round(0.1 * n)));
      addPauses(Math.max(1, Math.round(0.05 * n)));
      break;
    case 'byzantine': {
      const behaviours = options.byzantine.length > 0 ? options.byzantine : byzantineBehavioursDefault;
      const count = options.byzantineNodes > 0 ? options.byzantineNodes : Math.max(behaviours.length, Math.round(0.05 * n));
      addByzantine(behaviours, count);
      if (options.crashInRebuild) plan.rebuildCrash = { node: randomNode(byzantineNodes)!, downMs: Math.round(rng.uniform(500, 3000)) };
      break;
    }
    case 'soak': {
      if (rng.chance(0.4)) {
        const behaviours = rng.shuffle([...byzantineBehavioursDefault]).slice(0, rng.int(1, byzantineBehavioursDefault.length + 1));
        addByzantine(behaviours, rng.int(1, Math.max(2, Math.floor(n / 8)) + 1));
        if (plan.byzantine.some((b) => b.behaviour === 'equivocate') && rng.chance(0.5)) {
          plan.rebuildCrash = { node: randomNode(byzantineNodes)!, downMs: Math.round(rng.uniform(500, 3000)) };
        }
      }
      if (rng.chance(0.5)) {
        const atMs = Math.round(rng.uniform(0.1 * d, 0.4 * d));
        plan.partitions.push({ atMs, healAtMs: Math.round(rng.uniform(atMs + 1000, faultsEndMs)), kind: rng.pick(['halves', 'halves', 'isolate', 'one-way'] as const) });
      }
      if (rng.chance(0.6)) addCrashes(rng.int(1, 4));
      if (rng.chance(0.4)) addPauses(rng.int(1, 3));
      if (rng.chance(0.3)) {
        const node = randomNode(byzantineNodes);
        const atMs = Math.round(rng.uniform(0, 0.5 * d));
        if (node !== undefined) plan.slowNodes.push({ atMs, untilMs: Math.round(rng.uniform(atMs, faultsEndMs)), node });
      }
      break;
    }
  }
  return plan;
}

/** The command that replays a run: every option that differs from the defaults (soak: the seed alone). */
export function replayCommand(options: SimulationOptions, explicit: ReadonlySet<string> = new Set()): string {
  const parts = ['npm run sim --silent --', '--scenario', options.scenario, '--seed', options.seed];
  const d = simulationOptionsDefault;
  const flag = (name: keyof SimulationOptions, cli: string, value: string): void => {
    if (options.scenario === 'soak' && !explicit.has(name)) return;
    if (String(options[name]) !== String(d[name])) parts.push(cli, value);
  };
  flag('nodes', '--nodes', String(options.nodes));
  flag('loss', '--loss', String(options.loss));
  flag('duplicate', '--duplicate', String(options.duplicate));
  flag('latencyMinMs', '--latency-min-ms', String(options.latencyMinMs));
  flag('latencyMaxMs', '--latency-max-ms', String(options.latencyMaxMs));
  flag('durationMs', '--duration-ms', String(options.durationMs));
  flag('settleMsMax', '--settle-ms', String(options.settleMsMax));
  flag('writesPerSecond', '--rate', String(options.writesPerSecond));
  flag('beaconIntervalMs', '--beacon-ms', String(options.beaconIntervalMs));
  flag('antiEntropyIntervalMs', '--anti-entropy-ms', String(options.antiEntropyIntervalMs));
  flag('partitionMs', '--partition-ms', String(options.partitionMs));
  flag('byzantineNodes', '--byzantine-nodes', String(options.byzantineNodes));
  if (options.floodPublish) parts.push('--flood-publish');
  if (options.crashInRebuild && options.scenario === 'byzantine') parts.push('--crash-in-rebuild');
  if (options.scenario === 'byzantine' && options.byzantine.join(',') !== d.byzantine.join(',')) parts.push('--byzantine', options.byzantine.join(','));
  return parts.join(' ');
}

/** Draws the next honest write: mostly sanctions, some lifts of the writer's own sanctions, some shared entity registrations. */
class Workload {
  readonly #rng: Prng;
  readonly #openSanctions = new Map<number, string[]>();
  #issued = 0;

  constructor(rng: Prng) {
    this.#rng = rng;
  }

  next(node: SimNode): TongxingRecord {
    const rng = this.#rng;
    const nowMs = node.clock.nowMs();
    const open = this.#openSanctions.get(node.index) ?? [];
    const roll = rng.float();
    if (roll < 0.1 && open.length > 0) {
      const sanctionId = open.splice(rng.int(0, open.length), 1)[0]!;
      return { kind: { $case: 'sanctionLift', value: lift(sanctionId, nowMs) } };
    }
    if (roll < 0.2) return entityRegistration(usccFor(10_000 + rng.int(0, 50)));
    const sanctionId = `S-${node.index}-${++this.#issued}`;
    open.push(sanctionId);
    this.#openSanctions.set(node.index, open);
    return { kind: { $case: 'sanctionIssue', value: sanctionBody(sanctionId, usccFor(rng.int(0, 500)), nowMs - 1000) } };
  }
}

export async function runSimulation(options: SimulationOptions, explicit: ReadonlySet<string> = new Set()): Promise<RunResult> {
  assert(options.latencyMinMs >= 0 && options.latencyMaxMs >= options.latencyMinMs, `latency range ${options.latencyMinMs}..${options.latencyMaxMs} ms is empty`);
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const plan = planFaults(options);
  const latencyMs: Distribution = { kind: 'uniform', min: options.latencyMinMs, max: options.latencyMaxMs };
  const alliance = new Alliance({
    ...allianceConfigDefault,
    seed: options.seed,
    nodes: options.nodes,
    link: { latencyMs, lossProbability: options.loss, duplicateProbability: options.duplicate },
    beaconIntervalMs: options.beaconIntervalMs,
    antiEntropyIntervalMs: options.antiEntropyIntervalMs,
    gossip: { ...gossipParamsDefault, floodPublish: options.floodPublish },
  });
  try {
    return await run(alliance, options, plan, explicit, wallStart, cpuStart);
  } finally {
    alliance.close();
  }
}

async function run(alliance: Alliance, options: SimulationOptions, plan: FaultPlan, explicit: ReadonlySet<string>, wallStart: number, cpuStart: NodeJS.CpuUsage): Promise<RunResult> {
  const { scheduler, network } = alliance;
  const checker = new InvariantChecker(alliance);
  const tracker = new RecordTracker(alliance);
  const faults: string[] = [];
  const actions: Record<string, number> = {};
  alliance.observers.push(checker, tracker, { onFault: (description) => faults.push(`${(scheduler.now / 1000).toFixed(1)}s ${description}`) });
  const d = options.durationMs;
  const faultsEndMs = Math.round(0.8 * d);

  for (const { node, behaviour } of plan.byzantine) {
    alliance.nodes[node]!.misbehaviour = misbehaviour(behaviour, {
      activeUntilMs: faultsEndMs,
      equivocateAtMs: Math.round(0.3 * d),
      equivocationSigned: (equivocator, heads) => {
        checker.equivocationSigned(equivocator, heads);
        alliance.fault(`${equivocator.label} signed two heads at seq ${heads[0]!.head!.seq}`);
      },
      count: (what, amount = 1) => {
        actions[what] = (actions[what] ?? 0) + amount;
      },
    });
  }
  await alliance.startAll();

  // Writes: a Poisson process over the active phase, each from a random honest node that is up.
  const writes = new Prng(options.seed).fork('writes');
  const workload = new Workload(writes.fork('records'));
  const honest = alliance.honestNodes();
  if (options.writesPerSecond > 0) {
    let atMs = 500 + writes.exponential(1000 / options.writesPerSecond);
    while (atMs < d) {
      scheduler.at(Math.round(atMs), () => {
        const up = honest.filter((node) => node.status === 'up');
        if (up.length === 0) return undefined;
        const node = writes.pick(up);
        return alliance.write(node, workload.next(node));
      });
      atMs += writes.exponential(1000 / options.writesPerSecond);
    }
  }

  // Faults.
  const partitionRng = new Prng(options.seed).fork('partition');
  for (const partition of plan.partitions) {
    scheduler.at(partition.atMs, () => {
      const ids = alliance.nodes.map((node) => node.id);
      if (partition.kind === 'halves') {
        const shuffled = partitionRng.shuffle([...ids]);
        network.partition(shuffled.slice(0, shuffled.length >> 1), shuffled.slice(shuffled.length >> 1));
        alliance.fault('partition into halves');
      } else if (partition.kind === 'isolate') {
        const victim = partitionRng.pick(honest);
        network.isolate(victim.id);
        alliance.fault(`${victim.label} isolated`);
      } else {
        const victim = partitionRng.pick(honest);
        const cut = ids.filter((id) => id !== victim.id && partitionRng.chance(0.5));
        for (const id of cut) network.cut(victim.id, id);
        alliance.fault(`${victim.label} cannot send to ${cut.length} nodes`);
      }
    });
    scheduler.at(partition.healAtMs, () => {
      network.heal();
      alliance.fault('network healed');
    });
  }
  for (const crash of plan.crashes) {
    const node = alliance.nodes[crash.node]!;
    const restart = async (): Promise<void> => {
      if (node.status !== 'down') return;
      const lost = await node.restart(crash.loseLastCommit);
      alliance.fault(`${node.label} restarted${lost ? ' without its last commit' : ''}`);
    };
    const crashNow = (how?: string): void => {
      if (node.status === 'down') return;
      node.crash();
      alliance.fault(`${node.label} crashed${how === undefined ? '' : ` ${how}`}`);
      scheduler.after(crash.downMs, restart);
    };
    scheduler.at(crash.atMs, () => {
      if (node.status === 'down') return;
      if (crash.atCommit === undefined) return crashNow();
      // Dies just before its atCommit-th next commit, or after 2 s without one.
      node.store.dieAtCommit(crash.atCommit, () => scheduler.after(0, () => crashNow('at a commit boundary')));
      scheduler.after(2000, () => {
        if (node.status === 'down' || node.store.dead) return;
        node.store.disarm();
        crashNow();
      });
    });
  }
  const rebuildCrash = plan.rebuildCrash;
  if (rebuildCrash !== undefined) {
    const node = alliance.nodes[rebuildCrash.node]!;
    let armed = false;
    alliance.observers.push({
      onReplicaEvent: (subject, event) => {
        if (armed || subject !== node || event.type !== 'equivocation') return;
        armed = true;
        // The proof is committed; the rebuild's first commit (dropping the views) goes through, the process dies at the next.
        node.store.dieAtCommit(1, () =>
          scheduler.after(0, () => {
            node.crash();
            alliance.fault(`${node.label} crashed inside its view rebuild`);
            scheduler.after(rebuildCrash.downMs, async () => {
              await node.restart(false);
              alliance.fault(`${node.label} restarted`);
            });
          }),
        );
      },
    });
  }
  for (const pause of plan.pauses) {
    const node = alliance.nodes[pause.node]!;
    scheduler.at(pause.atMs, () => {
      if (node.status !== 'up') return;
      node.pause(pause.durationMs);
      alliance.fault(`${node.label} paused ${Math.round(pause.durationMs)} ms`);
    });
  }
  for (const slow of plan.slowNodes) {
    const node = alliance.nodes[slow.node]!;
    scheduler.at(slow.atMs, () => {
      network.configureNode(node.id, { latencyMs: { kind: 'uniform', min: 200, max: 800 } });
      alliance.fault(`${node.label} links slow (200-800 ms)`);
    });
    scheduler.at(slow.untilMs, () => network.configureNode(node.id, undefined));
  }
  for (let atMs = 1000; atMs < d + options.settleMsMax; atMs += 1000) scheduler.at(atMs, () => checker.sampleBounds());

  await alliance.runUntil(d);
  // Faults have stopped (heals and restarts were due by 80%); make sure, then wait for convergence.
  network.heal();
  for (const node of alliance.nodes) if (node.status === 'down') await node.restart(false);
  let settleMs: number | undefined;
  for (;;) {
    if (checker.converged()) {
      settleMs = scheduler.now - d;
      break;
    }
    if (scheduler.now >= d + options.settleMsMax) break;
    await alliance.runUntil(Math.min(scheduler.now + 250, d + options.settleMsMax));
  }
  checker.sampleBounds();
  await checker.checkFinal();

  const honestIndexes = honest.map((node) => node.index);
  const { t99Ms, t100Ms } = dissemination(tracker.records, honestIndexes);
  const halves = plan.partitions.find((p) => p.kind === 'halves');
  const heal = halves === undefined ? undefined : healCoverage(tracker.records, honestIndexes, halves.healAtMs, scheduler.now);
  let messages = 0;
  let bytes = 0;
  for (const node of alliance.nodes) {
    const counters = network.counters(node.id);
    messages += counters.messagesSent;
    bytes += counters.bytesSent;
  }
  const traffic = alliance.traffic;
  const records = tracker.records.length;
  const n = options.nodes;
  const gossipBytes = Object.values(traffic.gossipSent).reduce((sum, s) => sum + s.bytes, 0);
  const byzantineCounts: Record<string, number> = {};
  for (const { behaviour } of plan.byzantine) byzantineCounts[behaviour] = (byzantineCounts[behaviour] ?? 0) + 1;
  const virtualSeconds = scheduler.now / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const report: RunReport = {
    scenario: options.scenario,
    seed: options.seed,
    nodes: n,
    honest_nodes: honest.length,
    byzantine: byzantineCounts,
    loss: options.loss,
    duplicate: options.duplicate,
    latency_ms: `${options.latencyMinMs}-${options.latencyMaxMs}`,
    duration_ms: d,
    virtual_ms: scheduler.now,
    settle_ms: settleMs ?? null,
    beacon_interval_ms: options.beaconIntervalMs,
    anti_entropy_interval_ms: options.antiEntropyIntervalMs,
    flood_publish: options.floodPublish,
    records,
    records_incomplete: t100Ms.filter((t) => !Number.isFinite(t)).length,
    t99_ms_p50: finite(percentile(t99Ms, 0.5)),
    t99_ms_p99: finite(percentile(t99Ms, 0.99)),
    t99_ms_max: finite(percentile(t99Ms, 1)),
    t100_ms_p50: finite(percentile(t100Ms, 0.5)),
    t100_ms_p99: finite(percentile(t100Ms, 0.99)),
    t100_ms_max: finite(percentile(t100Ms, 1)),
    partition_ms: halves === undefined ? null : halves.healAtMs - halves.atMs,
    heal_ms: heal === undefined ? null : finite(heal.healMs),
    messages_per_node_per_record: records === 0 ? null : finite(messages / n / records),
    bytes_per_node_per_record: records === 0 ? null : finite(bytes / n / records),
    messages_per_node_per_s: finite(messages / n / virtualSeconds)!,
    bytes_per_node_per_s: finite(bytes / n / virtualSeconds)!,
    redundancy_ratio: traffic.gossip.firstDeliveries === 0 ? null : finite(traffic.gossip.deliveries / traffic.gossip.firstDeliveries),
    record_redundancy_ratio: traffic.gossip.recordFirstDeliveries === 0 ? null : finite(traffic.gossip.recordDeliveries / traffic.gossip.recordFirstDeliveries),
    traffic: {
      messages,
      bytes,
      gossip_record_messages: traffic.gossipSent.record.messages,
      gossip_beacon_messages: traffic.gossipSent.beacon.messages,
      gossip_proof_messages: traffic.gossipSent.proof.messages,
      gossip_invalid_messages: traffic.gossipSent.invalid.messages,
      gossip_replay_messages: traffic.gossipSent.replay.messages,
      gossip_bytes: gossipBytes,
      rpc_bytes: bytes - gossipBytes,
      gossip_graylisted: traffic.gossip.graylisted,
      gossip_rejected: traffic.gossip.rejected,
      exchange_calls: traffic.transport.exchange.calls,
      exchange_failures: traffic.transport.exchange.failures,
      pull_streams: traffic.transport.pullStreams,
      pull_calls: traffic.transport.pull.calls,
      pull_failures: traffic.transport.pull.failures,
      pulls_refused: traffic.transport.pullsRefused,
      writes_refused: alliance.writesRefused,
      rpc_retransmissions: traffic.transport.exchange.attempts - traffic.transport.exchange.calls + traffic.transport.pull.attempts - traffic.transport.pull.calls,
      dropped_loss: network.drops.loss,
      dropped_partition: network.drops.partition,
    },
    faults,
    byzantine_actions: Object.fromEntries(Object.entries(actions).sort(([a], [b]) => (a < b ? -1 : 1))),
    bounds: { ...checker.bounds, seen_entries_bound: alliance.config.gossip.seenEntriesMax },
    invariant_violations: checker.violationCount,
    violations: checker.violations,
    events: scheduler.eventsProcessed,
    trace_hash: scheduler.traceHash(),
    wall_ms: Math.round(performance.now() - wallStart),
    cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
    replay: replayCommand(options, explicit),
  };
  return { report, options, tracker, checker, alliance, heal };
}

export function isByzantineBehaviour(name: string): name is ByzantineBehaviour {
  return (byzantineBehaviours as readonly string[]).includes(name);
}
