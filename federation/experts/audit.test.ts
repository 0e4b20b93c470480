import { describe, expect, it } from 'vitest';
import { LeaseOutcome, type EvaluationDraw, type EvaluationOutcome, type ExpertLease, type Record } from '../../gen/tongxing/records/v1/records.js';
import { evaluationSession, expertAvailabilityRecord, expertProfileRecord } from '../testing/records.js';
import { auditDraw, type AuditInput } from './audit.js';
import { drawOrders, nextAttempt, replayOutcomes } from './draw.js';
import { leaseRecord, slotOf } from './lease.js';
import { seedCommitment } from './shuffle.js';
import { homeA, homeB, worldOf } from './testing.js';

const slotFrom = Date.UTC(2025, 5, 10, 1);
const seed = Buffer.alloc(32, 3);
const session = evaluationSession(slotFrom, { requirements: [['A08', 2]], seedCommitment: seedCommitment(seed) });
const records: Array<readonly [string, Record]> = ['n.1', 'n.2', 'n.3', 'n.4'].flatMap((ref) => [
  [homeB, expertProfileRecord(ref)] as const,
  [homeB, expertAvailabilityRecord(ref, [[slotFrom - 86_400_000, slotFrom + 86_400_000]])] as const,
]);
const world = worldOf(records);
const regionOf = (ref: string) => world.experts.get(ref)!.expert.profile.regionCode;
const draw: EvaluationDraw = { sessionId: session.sessionId, seed, basis: [{ author: Buffer.from(homeA, 'hex'), seq: 1n }, { author: Buffer.from(homeB, 'hex'), seq: 8n }], orders: drawOrders(session, seed, world) };

/** The host's walk with the first candidate refused, and the home node's lease records (seq 9, 10, ...). */
function walk(): { outcomes: EvaluationOutcome[]; leases: Map<number, ExpertLease> } {
  const outcomes: EvaluationOutcome[] = [];
  const leases = new Map<number, ExpertLease>();
  for (;;) {
    const next = nextAttempt(session, draw.orders, replayOutcomes(session, outcomes, regionOf), regionOf);
    if (!next) break;
    const granted = outcomes.length > 0;
    const leaseSeq = 9 + leases.size;
    leases.set(leaseSeq, leaseRecord(next.expertRef, { host: homeA, sessionId: session.sessionId, slot: slotOf(session.window!) }, granted ? undefined : 'already leased'));
    outcomes.push({
      sessionId: session.sessionId,
      requirementIndex: next.requirementIndex,
      expertRef: next.expertRef,
      outcome: granted ? LeaseOutcome.LEASE_OUTCOME_GRANTED : LeaseOutcome.LEASE_OUTCOME_REFUSED,
      reason: '',
      homeNode: Buffer.from(homeB, 'hex'),
      leaseSeq: BigInt(leaseSeq),
    });
  }
  return { outcomes, leases };
}

function input(overrides: Partial<AuditInput> = {}): AuditInput {
  const { outcomes, leases } = walk();
  return {
    session,
    created: { author: homeA, seq: 1, hlc: '1' },
    draw,
    drawn: { author: homeA, seq: 2, hlc: '2' },
    outcomes,
    world,
    missing: [],
    leaseAt: async (_home, seq) => leases.get(seq) ?? 'missing',
    ...overrides,
  };
}

describe('draw audit', () => {
  it('matches an honest draw, refusal and fall-through included', async () => {
    const result = await auditDraw(input());
    expect(result.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    expect(result.verdict).toBe('match');
    expect(input().outcomes.map((o) => o.outcome)).toEqual([LeaseOutcome.LEASE_OUTCOME_REFUSED, LeaseOutcome.LEASE_OUTCOME_GRANTED, LeaseOutcome.LEASE_OUTCOME_GRANTED]);
  });

  it('catches a revealed seed that is not the committed one', async () => {
    const result = await auditDraw(input({ draw: { ...draw, seed: Buffer.alloc(32, 4) } }));
    expect(result.verdict).toBe('mismatch');
    expect(result.checks.find((c) => c.name === 'seed commitment')!.status).toBe('mismatch');
  });

  it('catches a draw recorded before the session that committed its seed', async () => {
    const result = await auditDraw(input({ created: { author: homeA, seq: 3, hlc: '3' } }));
    expect(result.checks.find((c) => c.name === 'seed committed before the candidates')!.status).toBe('mismatch');
  });

  it('catches a reordered draw and a candidate slipped in', async () => {
    const reordered = { ...draw, orders: [{ ...draw.orders[0]!, expertRefs: [...draw.orders[0]!.expertRefs].reverse() }] };
    expect((await auditDraw(input({ draw: reordered }))).checks.find((c) => c.name === 'candidates and drawn order')!.detail).toMatch(/drawn order differ/);
    const padded = { ...draw, orders: [{ ...draw.orders[0]!, expertRefs: [...draw.orders[0]!.expertRefs, 'n.friend'] }] };
    expect((await auditDraw(input({ draw: padded }))).checks.find((c) => c.name === 'candidates and drawn order')!.detail).toMatch(/candidates differ/);
  });

  it('catches a host that skips a candidate it was meant to ask', async () => {
    const { outcomes } = walk();
    const result = await auditDraw(input({ outcomes: outcomes.slice(1) }));
    expect(result.checks.find((c) => c.name === 'lease attempts follow the drawn order')!.detail).toMatch(/the walk prescribes/);
    expect(result.verdict).toBe('mismatch');
  });

  it('catches a refusal the home node never wrote', async () => {
    const { outcomes, leases } = walk();
    const grantInstead = new Map(leases);
    grantInstead.set(9, { ...leases.get(9)!, granted: true, refusalReason: '' });
    const result = await auditDraw(input({ outcomes, leaseAt: async (_h, seq) => grantInstead.get(seq) ?? 'missing' }));
    expect(result.checks.find((c) => c.name === 'home node lease records')!.status).toBe('mismatch');
  });

  it('says incomplete, not mismatch, when this node lacks entries the draw used', async () => {
    const result = await auditDraw(input({ world: undefined, missing: ['Nanning log up to seq 8, have 5'] }));
    expect(result.verdict).toBe('incomplete');
    const late = await auditDraw(input({ leaseAt: async () => 'missing' }));
    expect(late.verdict).toBe('incomplete');
  });
});
