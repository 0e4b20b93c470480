// Small seeded alliances running the real replica: determinism, every named
// scenario with all invariants holding, and the checkers catching what they
// exist to catch. Each test prints its seed; replay one with the command in
// its report (`npm run sim --silent -- ...`).

import { describe, expect, it } from 'vitest';
import { LogEntry } from '../gen/tongxing/log/v1/log.js';
import { encodeEntry, zeroHash } from '../federation/log/entry.js';
import { signHead } from '../federation/log/head.js';
import { sanctionKey } from '../federation/views/sanction.js';
import { sanctionIssue, usccFor } from '../federation/testing/records.js';
import { deriveKeyPair } from './alliance.js';
import { deterministicPart, formatReport } from './report.js';
import { runSimulation, simulationOptionsDefault, type SimulationOptions } from './scenarios.js';

const small: SimulationOptions = { ...simulationOptionsDefault, nodes: 20, durationMs: 12_000, settleMsMax: 30_000, writesPerSecond: 8 };

async function run(options: Partial<SimulationOptions>) {
  const result = await runSimulation({ ...small, ...options });
  console.log(`seed ${result.options.seed} (${result.options.scenario}, ${result.options.nodes} nodes): ${result.report.invariant_violations} violations, T100 p99 ${result.report.t100_ms_p99} ms, trace ${result.report.trace_hash}, ${result.report.wall_ms} ms wall`);
  if (result.report.invariant_violations > 0) console.log(formatReport(result.report));
  return result;
}

describe('determinism', () => {
  it('replays a seed exactly and diverges for another seed', async () => {
    const options = { scenario: 'crash-restart', seed: 'determinism-7', nodes: 16, durationMs: 8000, loss: 0.05, duplicate: 0.02 } as const;
    const first = await run(options);
    const second = await run(options);
    expect(second.report.trace_hash).toBe(first.report.trace_hash);
    expect(deterministicPart(second.report)).toEqual(deterministicPart(first.report));
    expect(first.report.events).toBeGreaterThan(5000);
    const other = await run({ ...options, seed: 'determinism-8' });
    expect(other.report.trace_hash).not.toBe(first.report.trace_hash);
  });
});

describe('scenarios hold every invariant', () => {
  it('steady: records reach every node well within a second', async () => {
    const { report } = await run({ scenario: 'steady', seed: 'steady-1', nodes: 30 });
    expect(report.invariant_violations).toBe(0);
    expect(report.records).toBeGreaterThan(50);
    expect(report.records_incomplete).toBe(0);
    expect(report.t100_ms_p99).toBeLessThan(1000);
    expect(report.redundancy_ratio).toBeGreaterThan(1);
  });

  it('partition-heal: both halves converge after the heal', async () => {
    const { report, heal } = await run({ scenario: 'partition-heal', seed: 'partition-1', nodes: 24, durationMs: 16_000, partitionMs: 6000 });
    expect(report.invariant_violations).toBe(0);
    expect(report.traffic.dropped_partition).toBeGreaterThan(0);
    expect(heal!.records).toBeGreaterThan(0);
    expect(report.heal_ms).not.toBeNull();
    expect(report.heal_ms!).toBeLessThan(30_000);
  });

  it('crash-restart: restarted nodes catch up from their disk and their peers', async () => {
    const { report } = await run({ scenario: 'crash-restart', seed: 'crash-2', nodes: 24, durationMs: 16_000 });
    expect(report.invariant_violations).toBe(0);
    expect(report.faults.some((f) => f.includes('crashed'))).toBe(true);
    expect(report.faults.some((f) => f.includes('restarted'))).toBe(true);
    expect(report.records_incomplete).toBe(0);
  });

  it('byzantine: forgeries refused, the equivocator quarantined everywhere, the flood graylisted', async () => {
    const { report, checker, alliance } = await run({ scenario: 'byzantine', seed: 'byzantine-1', nodes: 24, durationMs: 16_000 });
    expect(report.invariant_violations).toBe(0);
    expect(checker.equivocators.size).toBe(1);
    for (const node of alliance.honestNodes()) for (const equivocator of checker.equivocators) expect(node.replica!.isQuarantined(equivocator)).toBe(true);
    expect(report.traffic.gossip_graylisted).toBeGreaterThan(0);
    expect(report.byzantine_actions['forge.tampered_batch'] ?? 0).toBeGreaterThan(0);
    expect(report.bounds.seenEntriesMax).toBeLessThanOrEqual(report.bounds.seen_entries_bound);
  });

  // An equivocator that never gossips its two histories and goes silent: heads at one seq with
  // one signing time must still be compared (replica #learn), or the alliance splits for good.
  it('byzantine equivocate-quiet: the split is detected', async () => {
    const { report } = await run({ scenario: 'byzantine', seed: '3', nodes: 16, durationMs: 10_000, settleMsMax: 10_000, writesPerSecond: 10, byzantine: ['equivocate-quiet'], byzantineNodes: 1 });
    expect(report.faults.some((f) => f.includes('signed two heads'))).toBe(true);
    expect(report.invariant_violations).toBe(0);
  });

  // The view rebuild after an equivocation spans several commits; a crash inside it must be
  // resumed at the next open (the meta/views-rebuild marker), or the node restarts with views missing.
  it('byzantine --crash-in-rebuild: views survive a crash inside the rebuild', async () => {
    const { report } = await run({ scenario: 'byzantine', seed: 'rebuild-1', nodes: 12, durationMs: 10_000, settleMsMax: 10_000, byzantine: ['equivocate'], byzantineNodes: 1, crashInRebuild: true });
    expect(report.faults.some((f) => f.includes('inside its view rebuild'))).toBe(true);
    expect(report.invariant_violations).toBe(0);
  });
});

describe('the invariant checker', () => {
  it('reports a tampered view, a lost sanction and a forged entry', async () => {
    const result = await run({ scenario: 'steady', seed: 'checker-1', nodes: 8, durationMs: 4000 });
    const { checker, alliance } = result;
    expect(checker.violationCount).toBe(0);
    const [victim, author] = alliance.honestNodes() as [(typeof alliance.nodes)[0], (typeof alliance.nodes)[0]];

    // A sanction view deleted behind the replica's back.
    const sanction = checker.issued.find((s) => s.issuer !== victim.id)!;
    await victim.store.disk.commit({ entries: [], heads: [], state: [{ key: sanctionKey(sanction.issuer, sanction.sanctionId), value: undefined }] });
    // A sanction its issuer acknowledged but no node stores.
    checker.recordIssued({ issuer: author.id, sanctionId: 'NEVER-STORED', seq: 1 });
    // An entry appended to another author's log under a head signed with the wrong key.
    const tip = await victim.store.disk.latestHead(author.id);
    const seq = Number(tip?.head?.seq ?? 0) + 1;
    const forged = encodeEntry(
      LogEntry.fromPartial({
        allianceId: alliance.allianceId,
        author: Buffer.from(author.id, 'hex'),
        seq: BigInt(seq),
        prev: tip?.head?.entryHash ?? zeroHash,
        hlc: tip?.head?.hlc ?? 0n,
        record: sanctionIssue('FORGED', usccFor(1), 0),
      }),
    );
    const head = signHead(
      { allianceId: alliance.allianceId, author: Buffer.from(author.id, 'hex'), seq: BigInt(seq), entryHash: forged.hash, hlc: forged.entry.hlc, signedAtMs: 0n },
      deriveKeyPair('someone else'),
    );
    await victim.store.disk.commit({ entries: [{ author: author.id, seq, bytes: forged.bytes }], heads: [head], state: [] });

    await checker.checkFinal();
    const kinds = new Set(checker.violations.map((v) => v.kind));
    console.log(checker.violations.map((v) => `[${v.kind}] ${v.detail}`).join('\n'));
    expect(kinds).toEqual(new Set(['sanction-lost', 'views-differ', 'forged-entry-stored']));
    expect(checker.violations.filter((v) => v.kind === 'sanction-lost').map((v) => v.detail)).toEqual(
      expect.arrayContaining([expect.stringContaining('NEVER-STORED'), expect.stringContaining(sanction.sanctionId)]),
    );
  });
});
