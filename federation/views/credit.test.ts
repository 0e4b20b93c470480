import { describe, expect, it } from 'vitest';
import { CreditRole, MisconductSeverity, PerformanceGrade, type Record } from '../../gen/tongxing/records/v1/records.js';
import { creditLiftRecord, misconductRecord, mutualRecord, performanceRecord } from '../credit/testing.js';
import { hlcPack } from '../log/hlc.js';
import { validateRecord } from '../records/validate.js';
import { planViews, rejectionKey, type ViewEntry } from './apply.js';
import { creditFactOf, creditKey, creditKeyOfIndex, creditSubjectPrefix, type CreditView } from './credit.js';
import { decodeView } from './provenance.js';

const kunming = 'a'.repeat(64);
const guiyang = 'b'.repeat(64);
const now = Date.UTC(2026, 2, 1, 2);
const bidder = { uscc: '91310110666007217T' };

class Views {
  readonly state = new Map<string, Uint8Array>();
  readonly seqs = new Map<string, number>();
  async add(author: string, record: Record): Promise<number> {
    const seq = (this.seqs.get(author) ?? 0) + 1;
    this.seqs.set(author, seq);
    const entry: ViewEntry = { author, seq, hlc: hlcPack(now, seq), hash: Buffer.alloc(32), record };
    for (const c of await planViews([entry], async (keys) => keys.map((k) => this.state.get(k)))) {
      if (c.value === undefined) this.state.delete(c.key);
      else this.state.set(c.key, c.value);
    }
    return seq;
  }
  rejection(author: string, seq: number): string | undefined {
    return decodeView<{ reason: string }>(this.state.get(rejectionKey(author, seq)))?.reason;
  }
  /** The subject's records as a range read of its index finds them. */
  subjectRecords(subject: string): CreditView[] {
    const prefix = creditSubjectPrefix(subject);
    return [...this.state.keys()].filter((k) => k.startsWith(prefix)).sort().map((k) => decodeView<CreditView>(this.state.get(creditKeyOfIndex(subject, k)))!);
  }
}

describe('credit views', () => {
  it('indexes records by subject and keeps each author’s record ids apart', async () => {
    const views = new Views();
    await views.add(kunming, performanceRecord('KM-1', bidder, now, PerformanceGrade.PERFORMANCE_GRADE_GOOD));
    await views.add(guiyang, misconductRecord('KM-1', bidder, now, MisconductSeverity.MISCONDUCT_SEVERITY_MINOR));
    const found = views.subjectRecords(`uscc:${bidder.uscc}`);
    expect(found.map((v) => [v.recorded.author, creditFactOf(v).record.$case])).toEqual([
      [kunming, 'performanceEvaluation'],
      [guiyang, 'venueMisconduct'],
    ]);
  });

  it('rejects a reused record id, and a lift of a record its author did not record or already lifted', async () => {
    const views = new Views();
    await views.add(kunming, performanceRecord('KM-1', bidder, now, PerformanceGrade.PERFORMANCE_GRADE_GOOD));
    const reused = await views.add(kunming, performanceRecord('KM-1', bidder, now, PerformanceGrade.PERFORMANCE_GRADE_EXCELLENT));
    expect(views.rejection(kunming, reused)).toMatch(/credit record id KM-1 was already used by this member \(log seq 1\)/);
    const foreign = await views.add(guiyang, creditLiftRecord('KM-1', now));
    expect(views.rejection(guiyang, foreign)).toMatch(/no credit record KM-1 recorded by this member to lift/);
    const lifted = await views.add(kunming, creditLiftRecord('KM-1', now + 1));
    expect(views.rejection(kunming, lifted)).toBeUndefined();
    const twice = await views.add(kunming, creditLiftRecord('KM-1', now + 2));
    expect(views.rejection(kunming, twice)).toMatch(/already lifted \(log seq 3\)/);
    const fact = creditFactOf(decodeView<CreditView>(views.state.get(creditKey(kunming, 'KM-1')))!);
    expect(fact.lift?.effectiveAtMs).toBe(now + 1);
    expect(fact.record.value.header!.subjectRole).toBe(CreditRole.CREDIT_ROLE_BIDDER);
  });

  it('names the field and the reason of an invalid credit record', () => {
    const selfRating = mutualRecord('R-1', bidder, bidder, now, 5);
    expect(() => validateRecord(selfRating)).toThrow('record.mutualEvaluation.rater: a subject does not rate itself');
    const expertAsBidder = performanceRecord('P-1', { expertRef: 'km.e-1' }, now, PerformanceGrade.PERFORMANCE_GRADE_GOOD, { role: CreditRole.CREDIT_ROLE_BIDDER });
    expect(() => validateRecord(expertAsBidder)).toThrow('record.performanceEvaluation.header.subjectRole: must be CREDIT_ROLE_EXPERT for an expert subject');
    const noProject = performanceRecord('P-2', bidder, now, PerformanceGrade.PERFORMANCE_GRADE_GOOD, { projectCode: '' });
    expect(() => validateRecord(noProject)).toThrow('record.performanceEvaluation.header.projectCode: missing');
    const stars = mutualRecord('R-2', bidder, { uscc: '91350100M000100Y43' }, now, 6);
    expect(() => validateRecord(stars)).toThrow('record.mutualEvaluation.stars: 6 is not 1-5');
    const noSeverity = misconductRecord('M-1', bidder, now, MisconductSeverity.MISCONDUCT_SEVERITY_UNSPECIFIED);
    expect(() => validateRecord(noSeverity)).toThrow('record.venueMisconduct.severity: unspecified');
    const lift = creditLiftRecord('M-1', 0);
    expect(() => validateRecord(lift)).toThrow('record.creditLift.effectiveAtMs: missing');
  });
});
