import { ValueType, type HrTime } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type GaugeMetricData,
  type MetricData,
  type MetricProducer,
  type SumMetricData,
} from '@opentelemetry/sdk-metrics';
import { judgeFreshness, type Freshness, type LogSighting } from '../../federation/freshness.js';
import { metricDefinitions, scopeName, type MetricDefinition } from './metrics.js';

// Each member's replication as this node sees it: the lag gauges, whether it
// is stale now and its freshness breaches, all from one read of the replica's logs. Breaches
// follow the freshness that checks answer with (federation/freshness.ts), so
// while a check fails closed on a member, the member is in a breach here.

export interface ReplicationLag {
  readonly member: string;
  readonly city: string;
  /** Entries known to exist (a verified head) but not stored yet. */
  readonly entries: number;
  /** Age of the newest verified head of this member; undefined until one is seen (no sample is exported). */
  readonly ageMs: number | undefined;
  /** The member's freshness as sanctions checks judge it. */
  readonly freshness: Freshness;
}

/** Every member's lag as `replica` knows its logs at `nowMs`, judged against the alliance's freshness budget. */
export function replicationLag(
  replica: { readonly nodeId: string; logs(): ReadonlyArray<LogSighting & { readonly storedSeq: number; readonly knownSeq: number }> },
  cityOf: (nodeId: string) => string,
  nowMs: number,
  budgetMs: number,
): ReplicationLag[] {
  return replica.logs().map((log) => ({
    member: log.nodeId,
    city: cityOf(log.nodeId),
    entries: log.knownSeq - log.storedSeq,
    ageMs: log.signedAtMs === undefined ? undefined : nowMs - log.signedAtMs,
    freshness: judgeFreshness(log, replica.nodeId, nowMs, budgetMs),
  }));
}

/** A member's replication as this node has sampled it since start. */
export interface MemberSync {
  /** Times the member's data stopped being fresh (older than the freshness budget, or not heard since start). */
  readonly breaches: number;
  /** Unix ms since when its data is not fresh: when it passed the budget, or when this node first sampled it unheard; undefined while fresh. */
  readonly staleSinceMs: number | undefined;
  /** Unix ms since when entries of its log are known but not stored here; undefined while caught up. */
  readonly behindSinceMs: number | undefined;
}

interface MemberRecord {
  city: string;
  breaches: number;
  staleSinceMs: number | undefined;
  behindSinceMs: number | undefined;
  /** When this node first sampled the member: the start of its breach counter. */
  readonly firstSampledAt: HrTime;
}

/**
 * Breaches are found by sampling the lag reader: a member counts once per
 * stretch in which it is not fresh. A member's record (and its breach
 * counter) stays once sampled, so a counter never goes back to 0.
 */
export class MemberSyncSampler {
  /** The lag reader (Telemetry.observeLag); none: nothing is sampled. */
  read: (() => ReadonlyArray<ReplicationLag>) | undefined;
  readonly #members = new Map<string, MemberRecord>();
  readonly #nowMs: () => number;

  constructor(nowMs: () => number) {
    this.#nowMs = nowMs;
  }

  /** Reads the lag once and updates every member it lists; returns what was read. Throws what the reader throws. */
  sample(): ReadonlyArray<ReplicationLag> {
    const lags = this.read?.() ?? [];
    const now = this.#nowMs();
    for (const lag of lags) {
      let record = this.#members.get(lag.member);
      if (!record) {
        record = { city: lag.city, breaches: 0, staleSinceMs: undefined, behindSinceMs: undefined, firstSampledAt: exportTimeNow() };
        this.#members.set(lag.member, record);
      }
      record.city = lag.city;
      if (lag.entries <= 0) record.behindSinceMs = undefined;
      else record.behindSinceMs ??= now;
      if (lag.freshness.state === 'fresh') {
        record.staleSinceMs = undefined;
      } else if (record.staleSinceMs === undefined) {
        record.breaches++;
        record.staleSinceMs = lag.freshness.breachAtMs ?? now;
      }
    }
    return lags;
  }

  /** sample(), for callers that go on with the records as they are when the reader throws (the replica is closing). */
  trySample(): void {
    try {
      this.sample();
    } catch {
      // the next sample (if any) sees it again
    }
  }

  /** Per member, as of the last sample. */
  memberSync(): ReadonlyMap<string, MemberSync> {
    return new Map([...this.#members].map(([member, r]) => [member, { breaches: r.breaches, staleSinceMs: r.staleSinceMs, behindSinceMs: r.behindSinceMs }]));
  }

  /** The breach counters, one per member sampled so far. */
  breachCounts(): Array<{ member: string; city: string; breaches: number; since: HrTime }> {
    return [...this.#members].map(([member, r]) => ({ member, city: r.city, breaches: r.breaches, since: r.firstSampledAt }));
  }
}

/**
 * The lag and staleness gauges and the breach counter, produced at collection
 * time from one sample, so a scrape shows the breaches of the freshness it shows.
 * Not observable gauges: with the cumulative temporality Prometheus needs,
 * sdk-metrics 2.12 keeps exporting an attribute set's last value after the
 * callback stops observing it, so a member whose age became unknown (or that
 * left) would show a frozen, falsely fresh lag.
 */
export class ReplicationMetrics implements MetricProducer {
  readonly #resource: Resource;
  readonly #sampler: MemberSyncSampler;

  constructor(resource: Resource, sampler: MemberSyncSampler) {
    this.#resource = resource;
    this.#sampler = sampler;
  }

  async collect(): Promise<CollectionResult> {
    const errors: unknown[] = [];
    let lags: ReadonlyArray<ReplicationLag> | undefined;
    try {
      if (this.#sampler.read) lags = this.#sampler.sample();
    } catch (error) {
      errors.push(error); // costs the lag gauges of this collection; the breach counts stay as last sampled
    }
    const now = exportTimeNow();
    const labels = (member: string, city: string) => ({ member, city });
    const descriptor = (d: MetricDefinition) => ({ name: d.name, description: d.description, unit: d.unit, valueType: ValueType.DOUBLE });
    const gauge = (d: MetricDefinition, points: Array<{ lag: ReplicationLag; value: number }>): GaugeMetricData => ({
      descriptor: descriptor(d),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints: points.map(({ lag, value }) => ({ startTime: now, endTime: now, attributes: labels(lag.member, lag.city), value })),
    });
    const breaches: SumMetricData = {
      descriptor: descriptor(metricDefinitions.freshnessBreaches),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints: this.#sampler.breachCounts().map((b) => ({ startTime: b.since, endTime: now, attributes: labels(b.member, b.city), value: b.breaches })),
    };
    const metrics: MetricData[] = [];
    if (lags) {
      metrics.push(
        gauge(metricDefinitions.replicationLagEntries, lags.map((lag) => ({ lag, value: lag.entries }))),
        gauge(metricDefinitions.replicationLag, lags.flatMap((lag) => (lag.ageMs === undefined ? [] : [{ lag, value: lag.ageMs }]))),
        gauge(metricDefinitions.memberStale, lags.map((lag) => ({ lag, value: lag.freshness.state === 'fresh' ? 0 : 1 }))),
      );
    }
    if (breaches.dataPoints.length > 0) metrics.push(breaches);
    return {
      resourceMetrics: { resource: this.#resource, scopeMetrics: metrics.length > 0 ? [{ scope: { name: scopeName }, metrics }] : [] },
      errors,
    };
  }
}

/** Timestamps of exported points: the real clock, as the SDK's own instruments use (the injected clock dates breaches). */
function exportTimeNow(): HrTime {
  const ms = Date.now();
  return [Math.floor(ms / 1000), (ms % 1000) * 1_000_000];
}
