import { describe, expect, it } from 'vitest';
import { LeaseOutcome, ScoreSheet, type Record } from '../../gen/tongxing/records/v1/records.js';
import { validateRecord } from '../records/validate.js';
import { evaluationSession, expertProfile, usccFor } from '../testing/records.js';
import { leaseRecord } from './lease.js';

const slotFrom = Date.UTC(2025, 5, 10, 1);
const host = Buffer.alloc(32, 0xaa);
const problem = (record: Record): string | undefined => {
  try {
    validateRecord(record);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
};
const session = (options: Parameters<typeof evaluationSession>[1]): Record => ({ kind: { $case: 'evaluationSession', value: evaluationSession(slotFrom, options) } });

describe('remote evaluation records (stateless rules, the same on every node)', () => {
  it('a session names its parties by valid USCCs, known specialties, a window and a seed commitment', () => {
    expect(problem(session({}))).toBeUndefined();
    expect(problem(session({ bidders: [] }))).toBe('record.evaluationSession.bidderUsccs: missing');
    expect(problem(session({ bidders: [usccFor(1), usccFor(1)] }))).toBe('record.evaluationSession.bidderUsccs[1]: duplicate of record.evaluationSession.bidderUsccs[0]');
    expect(problem(session({ requirements: [['A99', 2]] }))).toMatch(/requirements\[0\]\.specialtyCode: unknown specialty code "A99"/);
    expect(problem(session({ requirements: [['A08', 0]] }))).toMatch(/requirements\[0\]\.count: must be at least 1/);
    expect(problem(session({ requirements: [['A08', 30], ['B01', 30]] }))).toMatch(/60 seats in all, panelSeatsMax 50/);
    expect(problem(session({ cityQuotas: [['5201', 1]] }))).toMatch(/cityQuotas\[0\]\.regionCode: must be 6 digits/);
    expect(problem(session({ seedCommitment: Buffer.alloc(16) }))).toMatch(/seedCommitment: 16 bytes, expected 32/);
  });

  it('a lease is a grant or a refusal with its reason', () => {
    const slot = { fromMs: slotFrom, untilMs: slotFrom + 1 };
    expect(problem({ kind: { $case: 'expertLease', value: leaseRecord('e.1', { host: 'aa'.repeat(32), sessionId: 'KM-1', slot }) } })).toBeUndefined();
    expect(problem({ kind: { $case: 'expertLease', value: { ...leaseRecord('e.1', { host: 'aa'.repeat(32), sessionId: 'KM-1', slot }), granted: false } } })).toMatch(/refusalReason: missing/);
  });

  it('an outcome names the lease entry unless the home node was unreachable', () => {
    const outcome = { sessionId: 'KM-1', requirementIndex: 0, expertRef: 'e.1', outcome: LeaseOutcome.LEASE_OUTCOME_GRANTED, reason: '', homeNode: host, leaseSeq: 0n };
    expect(problem({ kind: { $case: 'evaluationOutcome', value: outcome } })).toMatch(/leaseSeq: missing/);
    expect(problem({ kind: { $case: 'evaluationOutcome', value: { ...outcome, outcome: LeaseOutcome.LEASE_OUTCOME_UNREACHABLE } } })).toBeUndefined();
  });

  it('a score sheet must decode and hold scores of distinct bidders within range', () => {
    const sheet = (scores: Array<[string, number]>) =>
      Buffer.from(ScoreSheet.encode({ host, sessionId: 'KM-1', expertRef: 'e.1', scores: scores.map(([bidderUscc, scoreHundredths]) => ({ bidderUscc, scoreHundredths })), signedAtMs: 1n }).finish());
    const score = (bytes: Buffer): Record => ({ kind: { $case: 'evaluationScore', value: { sheet: bytes, signature: Buffer.alloc(64, 1), certificateDer: Buffer.from([0x30, 0]) } } });
    expect(problem(score(sheet([[usccFor(1), 8750]])))).toBeUndefined();
    expect(problem(score(sheet([[usccFor(1), 100_001]])))).toMatch(/scoreHundredths: 100001 is above 100000/);
    expect(problem(score(Buffer.from([0xff, 0xff])))).toMatch(/sheet: not a ScoreSheet/);
  });

  it('an employer with a legacy USCC is accepted only with a recorded override', () => {
    const legacy = '91350211M00013FA1N';
    const profile = (override?: { reason: string; approvedBy: string }): Record => ({
      kind: { $case: 'expertProfile', value: { ...expertProfile('e.1'), employment: [{ employerUscc: legacy, period: { fromMs: 1n, untilMs: 0n }, employerUsccOverride: override }] } },
    });
    expect(problem(profile())).toMatch(/employment\[0\]\.employerUscc: /);
    expect(problem(profile({ reason: 'pilot-era code', approvedBy: 'Xiamen center' }))).toBeUndefined();
  });
});
