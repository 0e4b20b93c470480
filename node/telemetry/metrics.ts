import type { Meter } from '@opentelemetry/api';
import type { ReplicaEvent } from '../../federation/replica.js';

// The metrics a node exports: their names, units and labels (docs/METRICS.md
// is the reference; keep the two in step, telemetry.test.ts checks every name
// appears there), and the SDK instruments behind the counters of events.

export interface MetricDefinition {
  /** The name as scraped: Prometheus style, unit in the name, `_total` on counters. */
  readonly name: string;
  readonly kind: 'counter' | 'gauge' | 'histogram';
  /** UCUM unit, as OpenTelemetry expects it (`{entry}` is an annotated count). */
  readonly unit: string;
  readonly labels: readonly string[];
  readonly description: string;
}

/** The instrumentation scope of every metric and span. */
export const scopeName = 'tongxing';

/** Bucket bounds of operation durations: a local round takes milliseconds, a pull from a slow member seconds. */
export const operationDurationBoundariesMs = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000];

/** Every metric the node exports. */
export const metricDefinitions = {
  entriesIngested: {
    name: 'tongxing_entries_ingested_total',
    kind: 'counter',
    unit: '{entry}',
    labels: ['source'],
    description: 'Log entries stored, by how they arrived: local (written here), gossip (rode on a head announcement), pull (fetched over gRPC).',
  },
  verificationFailures: {
    name: 'tongxing_verification_failures_total',
    kind: 'counter',
    unit: '{failure}',
    labels: [],
    description: 'Heads, entry ranges or proofs from a peer that failed verification and were rejected.',
  },
  equivocations: {
    name: 'tongxing_equivocations_total',
    kind: 'counter',
    unit: '{equivocation}',
    labels: [],
    description: 'Members found to have signed two different histories (a proof was recorded and the member quarantined).',
  },
  pulls: {
    name: 'tongxing_pulls_total',
    kind: 'counter',
    unit: '{pull}',
    labels: ['result'],
    description: 'Attempts to pull one author\'s missing entries from one peer, by result: ok (reached the target) or failed.',
  },
  gossipMessages: {
    name: 'tongxing_gossip_messages_total',
    kind: 'counter',
    unit: '{message}',
    labels: ['direction', 'verdict'],
    description: 'Gossip announcements sent (direction out, no verdict) and received (direction in, with the validator verdict).',
  },
  replicationLagEntries: {
    name: 'tongxing_replication_lag_entries',
    kind: 'gauge',
    unit: '{entry}',
    labels: ['member', 'city'],
    description: 'Entries of a member\'s log known to exist (verified head) but not yet stored here.',
  },
  replicationLag: {
    name: 'tongxing_replication_lag_ms',
    kind: 'gauge',
    unit: 'ms',
    labels: ['member', 'city'],
    description: 'Age of the newest verified head of a member: how stale this node\'s picture of that member\'s log is.',
  },
  memberStale: {
    name: 'tongxing_member_stale',
    kind: 'gauge',
    unit: '1',
    labels: ['member', 'city'],
    description: 'Whether a member\'s data is not fresh now (1: older than the freshness budget, or not heard since start; sanctions checks fail closed on it), else 0.',
  },
  freshnessBreaches: {
    name: 'tongxing_freshness_breaches_total',
    kind: 'counter',
    unit: '{breach}',
    labels: ['member', 'city'],
    description: 'Times a member\'s data stopped being fresh: its newest verified head became older than the alliance\'s freshness budget, or none was heard since start (sanctions checks then answer unknown-stale).',
  },
  operationDuration: {
    name: 'tongxing_operation_duration_ms',
    kind: 'histogram',
    unit: 'ms',
    labels: ['operation', 'outcome'],
    description: 'Duration of traced operations (sync rounds, peer calls) by span name and outcome (ok or error).',
  },
} as const satisfies Record<string, MetricDefinition>;

/** The counters of replica and gossip events and the operation-duration histogram, as SDK instruments of `meter`. */
export class EventMetrics {
  readonly #entriesIngested;
  readonly #verificationFailures;
  readonly #equivocations;
  readonly #pulls;
  readonly #gossipMessages;
  readonly #operationDuration;

  constructor(meter: Meter) {
    const m = metricDefinitions;
    const counter = (d: MetricDefinition) => meter.createCounter(d.name, { description: d.description, unit: d.unit });
    this.#entriesIngested = counter(m.entriesIngested);
    this.#verificationFailures = counter(m.verificationFailures);
    this.#equivocations = counter(m.equivocations);
    this.#pulls = counter(m.pulls);
    this.#gossipMessages = counter(m.gossipMessages);
    this.#operationDuration = meter.createHistogram(m.operationDuration.name, {
      description: m.operationDuration.description,
      unit: m.operationDuration.unit,
      advice: { explicitBucketBoundaries: operationDurationBoundariesMs },
    });
    // Every series of a bounded label set exists from the start at 0, so
    // rate() and absent() work before the first event.
    for (const source of ['local', 'gossip', 'pull']) this.#entriesIngested.add(0, { source });
    this.#verificationFailures.add(0);
    this.#equivocations.add(0);
    for (const result of ['ok', 'failed']) this.#pulls.add(0, { result });
    this.#gossipMessages.add(0, { direction: 'out' });
    for (const verdict of ['accept', 'reject', 'ignore']) this.#gossipMessages.add(0, { direction: 'in', verdict });
  }

  replicaEvent(event: ReplicaEvent): void {
    switch (event.type) {
      case 'ingested':
        this.#entriesIngested.add(event.toSeq - event.fromSeq + 1, { source: event.source });
        break;
      case 'rejected':
        this.#verificationFailures.add(1);
        break;
      case 'equivocation':
        this.#equivocations.add(1);
        break;
      case 'pull':
        this.#pulls.add(1, { result: event.ok ? 'ok' : 'failed' });
        break;
    }
  }

  gossipMessage(direction: 'in' | 'out', verdict?: 'accept' | 'reject' | 'ignore'): void {
    this.#gossipMessages.add(1, verdict === undefined ? { direction } : { direction, verdict });
  }

  operation(name: string, outcome: 'ok' | 'error', durationMs: number): void {
    this.#operationDuration.record(durationMs, { operation: name, outcome });
  }
}
