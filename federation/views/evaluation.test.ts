import { describe, expect, it } from 'vitest';
import { EvaluationDraw, LeaseOutcome, type Record } from '../../gen/tongxing/records/v1/records.js';
import { leaseRecord } from '../experts/lease.js';
import { seedCommitment } from '../experts/shuffle.js';
import { hlcPack } from '../log/hlc.js';
import { evaluationSession } from '../testing/records.js';
import { planViews, rejectionKey, type ViewEntry } from './apply.js';
import { evaluationKey, leaseKey, type EvaluationView, type LeaseView } from './evaluation.js';
import { decodeView } from './provenance.js';

const host = 'a'.repeat(64);
const home = 'b'.repeat(64);
const now = Date.UTC(2025, 5, 1, 2);
const slotFrom = now + 9 * 86_400_000;
const seed = Buffer.alloc(32, 5);

class Views {
  readonly state = new Map<string, Uint8Array>();
  readonly seqs = new Map<string, number>();
  async add(author: string, record: Record, atMs = now): Promise<number> {
    const seq = (this.seqs.get(author) ?? 0) + 1;
    this.seqs.set(author, seq);
    const entry: ViewEntry = { author, seq, hlc: hlcPack(atMs, seq), hash: Buffer.alloc(32), record };
    const changes = await planViews([entry], async (keys) => keys.map((k) => this.state.get(k)));
    for (const c of changes) {
      if (c.value === undefined) this.state.delete(c.key);
      else this.state.set(c.key, c.value);
    }
    return seq;
  }
  rejection(author: string, seq: number): string | undefined {
    return decodeView<{ reason: string }>(this.state.get(rejectionKey(author, seq)))?.reason;
  }
  session(id = 'KM-2025-0001'): EvaluationView | undefined {
    return decodeView<EvaluationView>(this.state.get(evaluationKey(id, host)));
  }
}

const sessionRecord = (fromMs = slotFrom, id?: string): Record => ({
  kind: { $case: 'evaluationSession', value: evaluationSession(fromMs, { sessionId: id, seedCommitment: seedCommitment(seed) }) },
});
const drawRecord = (draw: Partial<EvaluationDraw> = {}): Record => ({
  kind: {
    $case: 'evaluationDraw',
    value: { sessionId: 'KM-2025-0001', seed, basis: [{ author: Buffer.from(host, 'hex'), seq: 9n }], orders: [{ expertRefs: ['e.1', 'e.2'], excluded: [] }], ...draw },
  },
});
const outcomeRecord = (expertRef: string, requirementIndex = 0): Record => ({
  kind: {
    $case: 'evaluationOutcome',
    value: { sessionId: 'KM-2025-0001', requirementIndex, expertRef, outcome: LeaseOutcome.LEASE_OUTCOME_GRANTED, reason: '', homeNode: Buffer.from(home, 'hex'), leaseSeq: 1n },
  },
});

describe('evaluation views', () => {
  it('keeps a session, its draw and its outcomes from the host, in log order', async () => {
    const views = new Views();
    await views.add(host, sessionRecord());
    await views.add(host, drawRecord());
    await views.add(host, outcomeRecord('e.2'));
    const view = views.session()!;
    expect(view.created.seq).toBe(1);
    expect(view.draw!.at.seq).toBe(2);
    expect(view.outcomes.map((o) => o.at.seq)).toEqual([3]);
  });

  it('rejects a session whose window does not start after it was recorded (window in the past)', async () => {
    const views = new Views();
    const seq = await views.add(host, sessionRecord(now - 1));
    expect(views.rejection(host, seq)).toMatch(/not after the session was recorded/);
    expect(views.session()).toBeUndefined();
  });

  it('rejects a draw whose seed does not match the commitment, a second draw, and a draw before the session', async () => {
    const views = new Views();
    expect(views.rejection(host, await views.add(host, drawRecord()))).toMatch(/no session KM-2025-0001/);
    await views.add(host, sessionRecord());
    expect(views.rejection(host, await views.add(host, drawRecord({ seed: Buffer.alloc(32, 6) })))).toMatch(/differs from the seed commitment/);
    expect(views.rejection(host, await views.add(host, drawRecord()))).toBeUndefined();
    expect(views.rejection(host, await views.add(host, drawRecord()))).toMatch(/already drawn/);
  });

  it('rejects a draw whose basis does not include the session (candidates listed before the commitment)', async () => {
    const views = new Views();
    await views.add(host, { kind: { $case: 'expertProfile', value: { expertRef: 'x', specialtyCodes: ['A08'], employment: [], regionCode: '530100', status: 1 } } });
    await views.add(host, sessionRecord());
    const seq = await views.add(host, drawRecord({ basis: [{ author: Buffer.from(host, 'hex'), seq: 1n }] }));
    expect(views.rejection(host, seq)).toMatch(/basis: must include this host's log at or after the session \(seq 2\)/);
  });

  it('rejects outcomes for experts that were not drawn, or asked twice', async () => {
    const views = new Views();
    await views.add(host, sessionRecord());
    await views.add(host, drawRecord());
    expect(views.rejection(host, await views.add(host, outcomeRecord('e.9')))).toMatch(/not a candidate/);
    expect(views.rejection(host, await views.add(host, outcomeRecord('e.1')))).toBeUndefined();
    expect(views.rejection(host, await views.add(host, outcomeRecord('e.1')))).toMatch(/already tried/);
    expect(views.rejection(host, await views.add(host, outcomeRecord('e.2', 3)))).toMatch(/has 1 requirements/);
  });

  it('a draw recorded by another member does not touch the host\'s session', async () => {
    const views = new Views();
    await views.add(host, sessionRecord());
    const seq = await views.add(home, drawRecord());
    expect(views.rejection(home, seq)).toMatch(/no session/);
    expect(views.session()!.draw).toBeUndefined();
  });

  it('keeps only non-overlapping grants per home node and expert; refusals change nothing', async () => {
    const views = new Views();
    const slot = { fromMs: slotFrom, untilMs: slotFrom + 3_600_000 };
    await views.add(home, { kind: { $case: 'expertLease', value: leaseRecord('e.1', { host, sessionId: 'KM-1', slot }) } });
    await views.add(home, { kind: { $case: 'expertLease', value: leaseRecord('e.1', { host: 'c'.repeat(64), sessionId: 'NN-1', slot }, 'already leased') } });
    const doubled = await views.add(home, { kind: { $case: 'expertLease', value: leaseRecord('e.1', { host: 'c'.repeat(64), sessionId: 'NN-1', slot }) } });
    expect(views.rejection(home, doubled)).toMatch(/overlapping slot/);
    expect(decodeView<LeaseView>(views.state.get(leaseKey(home, 'e.1')))!.grants.map((g) => g.sessionId)).toEqual(['KM-1']);
  });
});
