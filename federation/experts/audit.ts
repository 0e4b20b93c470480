import {
  Exclusion,
  LeaseOutcome,
  type DrawOrder,
  type EvaluationDraw,
  type EvaluationOutcome,
  type EvaluationSession,
  type ExpertLease,
} from '../../gen/tongxing/records/v1/records.js';
import { equalBytes, toHex } from '../log/entry.js';
import type { Provenance } from '../views/provenance.js';
import { expertIndex } from '../credit/experts.js';
import { formatHundredths } from '../credit/fixed.js';
import { drawOrders, nextAttempt, replayOutcomes } from './draw.js';
import { seedCommitment } from './shuffle.js';
import type { ExpertWorld } from './world.js';

// `tongxing expert audit`: any member re-runs a host's draw from its own
// replicas of the records and compares, step by step: the seed matches the
// commitment recorded before the draw; the candidates, exclusions and drawn
// order follow from the records at the draw's basis; every lease attempt is
// the one the walk prescribes; and every grant or refusal the host recorded
// is backed by the home node's own lease record.

export type AuditStatus = 'ok' | 'mismatch' | 'incomplete';

export interface AuditCheck {
  readonly name: string;
  readonly status: AuditStatus;
  readonly detail: string;
}

export interface AuditResult {
  /** mismatch when any check failed; else incomplete when this node lacks records; else match. */
  readonly verdict: 'match' | 'mismatch' | 'incomplete';
  readonly checks: AuditCheck[];
}

/** A home node's lease record as this node has it. */
export type LeaseLookup = (homeNode: string, seq: number) => Promise<ExpertLease | 'missing' | 'not-a-lease'>;

export interface AuditInput {
  readonly session: EvaluationSession;
  readonly created: Provenance;
  readonly draw: EvaluationDraw;
  readonly drawn: Provenance;
  /** In the host's log order. */
  readonly outcomes: readonly EvaluationOutcome[];
  /** The world at the draw's basis; undefined when this node lacks part of the basis (see `missing`). */
  readonly world: ExpertWorld | undefined;
  /** Why the world is missing, e.g. "Nanning log up to seq 40, have 12". */
  readonly missing: readonly string[];
  readonly leaseAt: LeaseLookup;
}

function firstDifference(expected: readonly string[], recorded: readonly string[]): string {
  for (let i = 0; i < Math.max(expected.length, recorded.length); i++) {
    if (expected[i] !== recorded[i]) return `position ${i + 1}: expected ${expected[i] ?? '(end)'}, recorded ${recorded[i] ?? '(end)'}`;
  }
  return 'equal';
}

function compareOrders(expected: readonly DrawOrder[], recorded: readonly DrawOrder[]): string | undefined {
  if (expected.length !== recorded.length) return `${recorded.length} orders recorded, ${expected.length} requirements`;
  for (const [i, order] of expected.entries()) {
    const other = recorded[i]!;
    const excludedExpected = order.excluded.map((e) => `${e.expertRef}:${e.reason}`);
    const excludedRecorded = other.excluded.map((e) => `${e.expertRef}:${e.reason}`);
    if (excludedExpected.join() !== excludedRecorded.join()) {
      return `requirement ${i} exclusions differ at ${firstDifference(excludedExpected, excludedRecorded)}`;
    }
    if (order.expertRefs.join() !== other.expertRefs.join()) {
      const sorted = (refs: readonly string[]) => [...refs].sort().join();
      const what = sorted(order.expertRefs) === sorted(other.expertRefs) ? 'drawn order' : 'candidates';
      return `requirement ${i} ${what} differ at ${firstDifference(order.expertRefs, other.expertRefs)}`;
    }
  }
  return undefined;
}

/** Why each expert excluded for low credit was: its index that day against the threshold (暂停抽取). */
function pausedForCredit(orders: readonly DrawOrder[], session: EvaluationSession, world: ExpertWorld): string {
  const policy = world.creditPolicy;
  const slotFromMs = Number(session.window!.fromMs);
  const refs = [...new Set(orders.flatMap((o) => o.excluded.filter((e) => e.reason === Exclusion.EXCLUSION_LOW_CREDIT).map((e) => e.expertRef)))].sort();
  const threshold = `threshold ${formatHundredths(policy.expertThresholdHundredths)}, credit method v${policy.version}`;
  if (refs.length === 0) return `no expert under the ${threshold}`;
  const why = refs.map((ref) => {
    const index = expertIndex(world.experts.get(ref)!, slotFromMs, policy);
    return `${ref}: index ${formatHundredths(index.indexHundredths)} on ${index.day} (${index.contributions.length} contributing records)`;
  });
  return `${why.join('; ')}; under the ${threshold}`;
}

export async function auditDraw(input: AuditInput): Promise<AuditResult> {
  const { session, draw, world } = input;
  const checks: AuditCheck[] = [];
  const check = (name: string, status: AuditStatus, detail: string) => checks.push({ name, status, detail });

  check(
    'seed commitment',
    equalBytes(seedCommitment(draw.seed), session.seedCommitment) ? 'ok' : 'mismatch',
    `SM3(seed) ${seedCommitment(draw.seed).toString('hex').slice(0, 16)}…, committed ${Buffer.from(session.seedCommitment).toString('hex').slice(0, 16)}…`,
  );
  const hostBasis = draw.basis.find((p) => toHex(p.author) === input.created.author);
  const committedFirst = input.created.seq < input.drawn.seq && hostBasis !== undefined && Number(hostBasis.seq) >= input.created.seq;
  check(
    'seed committed before the candidates',
    committedFirst ? 'ok' : 'mismatch',
    `session at host log seq ${input.created.seq}, draw at seq ${input.drawn.seq}, basis includes host seq ${hostBasis?.seq ?? 'none'}`,
  );

  if (!world) {
    check('basis available', 'incomplete', `this node lacks entries the draw was computed from: ${input.missing.join('; ')}`);
  } else {
    check('basis available', 'ok', `${draw.basis.length} member logs, ${world.experts.size} experts known at the basis`);
    const expected = drawOrders(session, draw.seed, world);
    const difference = compareOrders(expected, draw.orders);
    const counts = expected.map((o, i) => `#${i} ${session.requirements[i]!.specialtyCode}: ${o.expertRefs.length} candidates, ${o.excluded.length} excluded`);
    check('candidates and drawn order', difference === undefined ? 'ok' : 'mismatch', difference ?? counts.join('; '));
    check('experts paused for low credit', 'ok', pausedForCredit(expected, session, world));

    const regionOf = (ref: string) => world.experts.get(ref)?.expert.profile.regionCode ?? '';
    let walk: string | undefined;
    for (const [k, outcome] of input.outcomes.entries()) {
      const next = nextAttempt(session, draw.orders, replayOutcomes(session, input.outcomes.slice(0, k), regionOf), regionOf);
      if (!next || next.expertRef !== outcome.expertRef || next.requirementIndex !== outcome.requirementIndex) {
        walk = `attempt ${k + 1} asked ${outcome.expertRef} for requirement ${outcome.requirementIndex}; the walk prescribes ${next ? `${next.expertRef} for requirement ${next.requirementIndex}` : 'no further attempt'}`;
        break;
      }
      const home = world.experts.get(outcome.expertRef)?.expert.home.author;
      if (toHex(outcome.homeNode) !== home) {
        walk = `attempt ${k + 1} asked ${toHex(outcome.homeNode).slice(0, 12)} for ${outcome.expertRef}, whose home node is ${home?.slice(0, 12)}`;
        break;
      }
    }
    const state = replayOutcomes(session, input.outcomes, regionOf);
    const open = state.open.reduce((sum, n) => sum + Math.max(0, n), 0);
    const pending = nextAttempt(session, draw.orders, state, regionOf);
    check(
      'lease attempts follow the drawn order',
      walk === undefined ? 'ok' : 'mismatch',
      walk ?? `${input.outcomes.length} attempts, ${state.seats.length} seats filled, ${open} open${pending ? ` (next: ${pending.expertRef}, the draw is unfinished)` : ''}`,
    );
  }

  let leaseProblem: { status: AuditStatus; detail: string } | undefined;
  let backed = 0;
  for (const outcome of input.outcomes) {
    if (outcome.outcome === LeaseOutcome.LEASE_OUTCOME_UNREACHABLE) continue;
    const home = toHex(outcome.homeNode);
    const lease = await input.leaseAt(home, Number(outcome.leaseSeq));
    const where = `${outcome.expertRef} at ${home.slice(0, 12)} log seq ${outcome.leaseSeq}`;
    if (lease === 'missing') {
      leaseProblem ??= { status: 'incomplete', detail: `the lease record of ${where} has not reached this node` };
      continue;
    }
    const granted = outcome.outcome === LeaseOutcome.LEASE_OUTCOME_GRANTED;
    const matches =
      lease !== 'not-a-lease' &&
      lease.expertRef === outcome.expertRef &&
      lease.sessionId === session.sessionId &&
      toHex(lease.host) === input.created.author &&
      lease.slot?.fromMs === session.window!.fromMs &&
      lease.slot?.untilMs === session.window!.untilMs &&
      lease.granted === granted;
    if (!matches) {
      leaseProblem = { status: 'mismatch', detail: `${where} is not a ${granted ? 'grant' : 'refusal'} of this session's slot` };
      break;
    }
    backed++;
  }
  check('home node lease records', leaseProblem?.status ?? 'ok', leaseProblem?.detail ?? `${backed} grants and refusals backed by the home nodes' logs`);

  const verdict = checks.some((c) => c.status === 'mismatch') ? 'mismatch' : checks.some((c) => c.status === 'incomplete') ? 'incomplete' : 'match';
  return { verdict, checks };
}
