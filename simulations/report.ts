// Measurements of one run: per record, when each honest node stored it (from
// the replicas' 'ingested' events), reduced to T99/T100 percentiles; the
// convergence after a partition heals; traffic per node and per record; and
// the report printed by the command line (text or one JSON object).

import type { Record as TongxingRecord } from '../gen/tongxing/records/v1/records.js';
import type { ReplicaEvent } from '../federation/replica.js';
import type { Alliance, AllianceObserver, SimNode } from './alliance.js';
import type { BoundsObserved, Violation } from './invariants.js';

export interface TrackedRecord {
  readonly author: number;
  readonly seq: number;
  readonly kind: string;
  readonly writtenAtMs: number;
  /** Virtual time each node (by index) first stored it; NaN until then. */
  readonly storedAtMs: Float64Array;
}

/** Follows every acknowledged honest write until every node stored it. */
export class RecordTracker implements AllianceObserver {
  readonly records: TrackedRecord[] = [];
  readonly #byKey = new Map<string, TrackedRecord>();
  readonly #alliance: Alliance;

  constructor(alliance: Alliance) {
    this.#alliance = alliance;
  }

  onWrite(node: SimNode, seq: number, record: TongxingRecord, calledAtMs: number): void {
    const tracked: TrackedRecord = {
      author: node.index,
      seq,
      kind: record.kind?.$case ?? 'none',
      writtenAtMs: calledAtMs,
      storedAtMs: new Float64Array(this.#alliance.nodes.length).fill(NaN),
    };
    tracked.storedAtMs[node.index] = calledAtMs;
    this.records.push(tracked);
    this.#byKey.set(`${node.index}/${seq}`, tracked);
  }

  onReplicaEvent(node: SimNode, event: ReplicaEvent): void {
    if (event.type !== 'ingested' || event.source === 'local') return;
    const author = this.#alliance.node(event.author).index;
    const now = this.#alliance.scheduler.now;
    for (let seq = event.fromSeq; seq <= event.toSeq; seq++) {
      const tracked = this.#byKey.get(`${author}/${seq}`);
      if (tracked !== undefined && Number.isNaN(tracked.storedAtMs[node.index]!)) tracked.storedAtMs[node.index] = now;
    }
  }
}

/** Nearest-rank percentile of ascending `sorted` (p in 0..1); NaN for an empty list. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export interface Dissemination {
  /** Per record: ms until 99% (ceil) of honest nodes stored it; Infinity if never. Ascending. */
  readonly t99Ms: number[];
  /** Per record: ms until every honest node stored it; Infinity if never. Ascending. */
  readonly t100Ms: number[];
}

export function dissemination(records: readonly TrackedRecord[], honest: readonly number[]): Dissemination {
  const needed99 = Math.ceil(0.99 * honest.length);
  const t99Ms: number[] = [];
  const t100Ms: number[] = [];
  const times = new Float64Array(honest.length);
  for (const record of records) {
    for (let i = 0; i < honest.length; i++) {
      const at = record.storedAtMs[honest[i]!]!;
      times[i] = Number.isNaN(at) ? Infinity : at - record.writtenAtMs;
    }
    times.sort();
    t99Ms.push(times[needed99 - 1]!);
    t100Ms.push(times[honest.length - 1]!);
  }
  t99Ms.sort((a, b) => a - b);
  t100Ms.sort((a, b) => a - b);
  return { t99Ms, t100Ms };
}

export interface HealCoverage {
  readonly healAtMs: number;
  /** Records written before the heal (their coverage is what the heal repairs). */
  readonly records: number;
  /** ms from the heal until every honest node stored every one of them; Infinity if never. */
  readonly healMs: number;
  /** Samples: ms since the heal, fraction of (node, record) pairs stored, fraction of nodes with all of them. */
  readonly samples: Array<{ readonly sinceHealMs: number; readonly pairs: number; readonly nodes: number }>;
}

export function healCoverage(records: readonly TrackedRecord[], honest: readonly number[], healAtMs: number, endMs: number): HealCoverage {
  const before = records.filter((record) => record.writtenAtMs < healAtMs);
  const pairTimes: number[] = [];
  const nodeTimes: number[] = [];
  for (const node of honest) {
    let last = -Infinity;
    for (const record of before) {
      const at = record.storedAtMs[node]!;
      const time = Number.isNaN(at) ? Infinity : at;
      pairTimes.push(time);
      if (time > last) last = time;
    }
    nodeTimes.push(last);
  }
  pairTimes.sort((a, b) => a - b);
  nodeTimes.sort((a, b) => a - b);
  const latest = nodeTimes.length === 0 ? healAtMs : nodeTimes[nodeTimes.length - 1]!;
  const healMs = Math.max(0, latest - healAtMs);
  const spanMs = Math.max(1000, Math.min(endMs, Number.isFinite(latest) ? latest + 1000 : endMs) - healAtMs);
  const samples: Array<{ sinceHealMs: number; pairs: number; nodes: number }> = [];
  const steps = 200;
  for (let i = 0; i <= steps; i++) {
    const sinceHealMs = (spanMs * i) / steps;
    const t = healAtMs + sinceHealMs;
    samples.push({
      sinceHealMs,
      pairs: pairTimes.length === 0 ? 1 : countAtOrBelow(pairTimes, t) / pairTimes.length,
      nodes: nodeTimes.length === 0 ? 1 : countAtOrBelow(nodeTimes, t) / nodeTimes.length,
    });
  }
  return { healAtMs, records: before.length, healMs, samples };
}

function countAtOrBelow(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! <= value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** One run, as the command line prints it. Field names carry their units; Infinity and NaN print as null. */
export interface RunReport {
  readonly scenario: string;
  readonly seed: string;
  readonly nodes: number;
  readonly honest_nodes: number;
  readonly byzantine: Record<string, number>;
  readonly loss: number;
  readonly duplicate: number;
  readonly latency_ms: string;
  readonly duration_ms: number;
  /** Virtual time at the final checks (the active phase plus the wait for convergence). */
  readonly virtual_ms: number;
  /** From the end of the active phase until every honest node held every honest record (null: never). */
  readonly settle_ms: number | null;
  readonly beacon_interval_ms: number;
  readonly anti_entropy_interval_ms: number;
  readonly flood_publish: boolean;
  readonly records: number;
  readonly records_incomplete: number;
  readonly t99_ms_p50: number | null;
  readonly t99_ms_p99: number | null;
  readonly t99_ms_max: number | null;
  readonly t100_ms_p50: number | null;
  readonly t100_ms_p99: number | null;
  readonly t100_ms_max: number | null;
  readonly partition_ms: number | null;
  readonly heal_ms: number | null;
  readonly messages_per_node_per_record: number | null;
  readonly bytes_per_node_per_record: number | null;
  readonly messages_per_node_per_s: number;
  readonly bytes_per_node_per_s: number;
  /** Gossip copies delivered per copy that was new to its receiver. */
  readonly redundancy_ratio: number | null;
  /** The same, for announcements that carried a record batch. */
  readonly record_redundancy_ratio: number | null;
  readonly traffic: Record<string, number>;
  readonly faults: string[];
  readonly byzantine_actions: Record<string, number>;
  readonly bounds: BoundsObserved & { readonly seen_entries_bound: number };
  readonly invariant_violations: number;
  readonly violations: Violation[];
  readonly events: number;
  readonly trace_hash: string;
  readonly wall_ms: number;
  readonly cpu_ms: number;
  readonly replay: string;
}

/** Numbers as JSON can carry them. */
export function finite(value: number): number | null {
  return Number.isFinite(value) ? Math.round(value * 1000) / 1000 : null;
}

/** The fields that must be equal for two runs of one seed (wall-clock ones removed). */
export function deterministicPart(report: RunReport): Omit<RunReport, 'wall_ms' | 'cpu_ms'> {
  const { wall_ms: _wall, cpu_ms: _cpu, ...rest } = report;
  return rest;
}

const fmt = (value: number | null, unit = ''): string => (value === null ? 'never' : `${Number.isInteger(value) ? value : value.toFixed(value < 10 ? 2 : 1)}${unit}`);

export function formatReport(report: RunReport): string {
  const lines: string[] = [];
  const byzantine = Object.entries(report.byzantine)
    .map(([name, count]) => `${count} ${name}`)
    .join(', ');
  lines.push(`scenario ${report.scenario}, seed ${report.seed}: ${report.nodes} nodes (${report.honest_nodes} honest${byzantine ? `; byzantine: ${byzantine}` : ''})`);
  lines.push(`  links: ${report.latency_ms} ms one way, loss ${report.loss}, duplication ${report.duplicate}; beacon every ${report.beacon_interval_ms} ms, anti-entropy every ${report.anti_entropy_interval_ms} ms${report.flood_publish ? ', flood publish' : ''}`);
  lines.push(`  virtual time: ${report.duration_ms} ms active + ${fmt(report.settle_ms, ' ms')} to converge; ${report.events} events in ${report.wall_ms} ms wall (${report.cpu_ms} ms CPU)`);
  lines.push('');
  lines.push(`  records: ${report.records} (${report.records_incomplete} not on every honest node)`);
  lines.push(`  T99  p50 ${fmt(report.t99_ms_p50, ' ms')}  p99 ${fmt(report.t99_ms_p99, ' ms')}  max ${fmt(report.t99_ms_max, ' ms')}`);
  lines.push(`  T100 p50 ${fmt(report.t100_ms_p50, ' ms')}  p99 ${fmt(report.t100_ms_p99, ' ms')}  max ${fmt(report.t100_ms_max, ' ms')}`);
  if (report.partition_ms !== null) lines.push(`  partition of ${report.partition_ms} ms healed; every honest node had every earlier record ${fmt(report.heal_ms, ' ms')} after the heal`);
  lines.push(`  traffic per node: ${fmt(report.messages_per_node_per_s)} messages/s, ${fmt(report.bytes_per_node_per_s / 1024)} KiB/s; per node per record: ${fmt(report.messages_per_node_per_record)} messages, ${fmt(report.bytes_per_node_per_record)} bytes`);
  lines.push(`  gossip redundancy: ${fmt(report.redundancy_ratio)} copies per new delivery (record batches: ${fmt(report.record_redundancy_ratio)})`);
  const traffic = Object.entries(report.traffic)
    .map(([name, value]) => `${name} ${value}`)
    .join(', ');
  lines.push(`  ${traffic}`);
  if (report.faults.length > 0) lines.push(`  faults: ${report.faults.slice(0, 12).join('; ')}${report.faults.length > 12 ? `; ... (${report.faults.length})` : ''}`);
  const actions = Object.entries(report.byzantine_actions);
  if (actions.length > 0) lines.push(`  byzantine actions: ${actions.map(([name, count]) => `${name} ${count}`).join(', ')}`);
  const b = report.bounds;
  lines.push(`  bounds (max seen): seen-cache ${b.seenEntriesMax}/${b.seen_entries_bound}, scored peers ${b.scoredPeersMax}, pull sessions ${b.pullSessionsMax}, pulls open ${b.pullsOpenMax}, pending events ${b.pendingEventsMax}`);
  lines.push('');
  if (report.invariant_violations === 0) {
    lines.push('  invariants: all held');
  } else {
    lines.push(`  INVARIANT VIOLATIONS: ${report.invariant_violations}`);
    for (const v of report.violations.slice(0, 20)) lines.push(`    [${v.kind}] at ${v.atMs} ms${v.node ? ` ${v.node}` : ''}: ${v.detail}`);
    if (report.violations.length > 20) lines.push(`    ... ${report.invariant_violations - 20} more`);
    lines.push(`  replay: ${report.replay}`);
  }
  lines.push(`  trace ${report.trace_hash}`);
  return lines.join('\n');
}
