import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditVerdict } from '../gen/tongxing/api/v1/experts.js';
import { TenderVerdict } from '../gen/tongxing/api/v1/credit.js';
import { Exclusion, LiftReason, MisconductSeverity, PerformanceGrade } from '../gen/tongxing/records/v1/records.js';
import { cutoffMs, dayMs, dayOf } from '../federation/credit/day.js';
import { misconductRecord, mutualRecord, performanceRecord } from '../federation/credit/testing.js';
import { eventually } from '../federation/testing/eventually.js';
import { evaluationSession, expertProfile, residentId, sampleUsccs, sanction } from '../federation/testing/records.js';
import { connectApi, type ApiClient } from './api/client.js';
import { connectCredit, type CreditClient } from './api/credit-client.js';
import { connectExperts, type ExpertsClient } from './api/experts-client.js';
import { indexJson } from './cli/credit.js';
import { tongxing } from './cli/testing.js';
import { startLocalAlliance, type LocalAlliance } from './local-alliance.js';

// Credit across three real node processes (bin/tongxing.js from dist/: `make
// test` builds first): credit records written at three cities give the same
// index and explanation for the same subject and day at every node; a lifted
// record drops out on the day its lift takes effect; an expert under the
// threshold is not drawn and the audit at another city says why; a tender
// check returns one bundle that `tongxing evidence verify` accepts.

let alliance: LocalAlliance | undefined;
let closers: Array<{ close(): void }> = [];
let scratch: string | undefined;
afterEach(async () => {
  for (const client of closers) client.close();
  closers = [];
  await alliance?.stop();
  alliance = undefined;
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
});

const bidder = { uscc: sampleUsccs[2] };
const other = { uscc: sampleUsccs[3] };

describe('credit across node processes', () => {
  it('one index everywhere, a lift on the right day, a paused expert, and a verified tender check', async () => {
    alliance = await startLocalAlliance({ cities: 3, beaconIntervalMs: 1000 });
    const credit = alliance.cities.map((c) => connectCredit(c.apiAddress)) as [CreditClient, CreditClient, CreditClient];
    const [kunmingExperts, nanningExperts, guiyangExperts] = [0, 2, 1].map((i) => connectExperts(alliance!.cities[i]!.apiAddress)) as [ExpertsClient, ExpertsClient, ExpertsClient];
    const guiyangApi: ApiClient = connectApi(alliance.cities[1]!.apiAddress);
    closers = [...credit, kunmingExperts, nanningExperts, guiyangExperts, guiyangApi];
    const [kunming, guiyang, nanning] = credit;

    const now = Date.now();
    const tomorrow = dayOf(now + dayMs);
    const dayAfter = dayOf(now + 2 * dayMs);

    // Three cities state facts about one bidder; Guiyang lifts its own from the day after tomorrow.
    await kunming.recordCredit(performanceRecord('KM-P-1', bidder, now, PerformanceGrade.PERFORMANCE_GRADE_EXCELLENT));
    await guiyang.recordCredit(misconductRecord('GY-M-1', bidder, now, MisconductSeverity.MISCONDUCT_SEVERITY_GENERAL));
    await nanning.recordCredit(mutualRecord('NN-R-1', bidder, other, now, 5));
    await guiyang.liftCredit({ recordId: 'GY-M-1', reason: LiftReason.LIFT_REASON_CREDIT_REPAIR, explanation: 'repaired', effectiveAtMs: BigInt(cutoffMs(dayAfter)) });

    const explained = async (client: CreditClient, day: string) => JSON.stringify(indexJson((await client.getCreditIndex(bidder, day)).index));
    for (const client of credit) {
      await eventually('every record and the lift at every node', async () => {
        const [a, b] = [(await client.getCreditIndex(bidder, tomorrow)).index!, (await client.getCreditIndex(bidder, dayAfter)).index!];
        return a.contributions.length === 3 && b.contributions.length === 2 ? true : undefined;
      });
    }
    const tomorrowAt = await Promise.all(credit.map((c) => explained(c, tomorrow)));
    expect(new Set(tomorrowAt).size, tomorrowAt.join('\n')).toBe(1);
    const dayAfterAt = await Promise.all(credit.map((c) => explained(c, dayAfter)));
    expect(new Set(dayAfterAt).size).toBe(1);
    // Tomorrow (day 0 of every decay): 80 + 4.00 (excellent) - 3.00 (general misconduct) + 1.00 (5 stars) = 82.00.
    const first = (await kunming.getCreditIndex(bidder, tomorrow)).index!;
    expect(first.indexHundredths).toBe(8200);
    expect(first.contributions.map((c) => c.recordId).sort()).toEqual(['GY-M-1', 'KM-P-1', 'NN-R-1']);
    // The day after: the misconduct is lifted; one day of decay: 400 * 729/730 -> 399, 100 * 364/365 -> 99.
    const second = (await guiyang.getCreditIndex(bidder, dayAfter)).index!;
    expect(second.contributions.map((c) => c.recordId).sort()).toEqual(['KM-P-1', 'NN-R-1']);
    expect(second.indexHundredths).toBe(8000 + 399 + 99);
    // Today nothing is visible yet: records count from the next cut-off.
    expect((await nanning.getCreditIndex(bidder)).index!.indexHundredths).toBe(8000);
    const explain = await tongxing('credit', 'explain', bidder.uscc, '--day', tomorrow, '--node', alliance.cities[2]!.apiAddress);
    expect(explain.code, explain.stderr).toBe(0);
    expect(explain.stdout).toContain('credit index 82.00');
    expect(explain.stdout).toMatch(/venue misconduct .* -3\.00/);

    // An expert of Nanning with three serious misconduct records (stated by Kunming) is paused from Kunming's draw.
    const slotFrom = now + 3 * dayMs;
    const refs: string[] = [];
    for (const [i, person] of ['低信用专家', '专家'].entries()) {
      const { expertRef } = await nanningExperts.registerExpert(
        { idCardNumber: residentId('450102', '19700101', 300 + i), name: person, phone: '13900000000', birthday: '1970-01-01', employerName: '' },
        { ...expertProfile('', { specialties: ['A0801'], regionCode: '450100' }), expertRef: '' },
      );
      await nanningExperts.setAvailability({ expertRef, windows: [{ fromMs: BigInt(slotFrom - dayMs), untilMs: BigInt(slotFrom + dayMs) }] });
      refs.push(expertRef);
    }
    const [paused, drawable] = refs as [string, string];
    for (const n of [1, 2, 3]) await kunming.recordCredit(misconductRecord(`KM-E-${n}`, { expertRef: paused }, now, MisconductSeverity.MISCONDUCT_SEVERITY_SERIOUS));
    await eventually('the experts at Kunming', async () => ((await Promise.all(refs.map((r) => kunmingExperts.getExpert(r)))).every((e) => e.found) ? true : undefined));
    await kunmingExperts.createSession(evaluationSession(slotFrom, { sessionId: 'KM-2026-C01', otherCitiesOnly: true, requirements: [['A08', 1]], hostRegionCode: '530100' }));
    const drawn = await kunmingExperts.drawExperts('KM-2026-C01');
    expect(drawn.panel.map((s) => s.expertRef)).toEqual([drawable]);
    const session = await kunmingExperts.getSession('KM-2026-C01');
    expect(session.draw!.orders[0]!.excluded).toEqual([{ expertRef: paused, reason: Exclusion.EXCLUSION_LOW_CREDIT }]);
    const listed = await kunming.listExpertCredit(dayOf(slotFrom), true);
    expect(listed.experts.map((e) => e.expertRef)).toEqual([paused]);
    const audit = await eventually('the audit at Guiyang', async () => {
      const result = await guiyangExperts.auditDraw('KM-2026-C01');
      return result.verdict === AuditVerdict.AUDIT_VERDICT_INCOMPLETE ? undefined : result;
    });
    expect(audit.verdict, JSON.stringify(audit.checks)).toBe(AuditVerdict.AUDIT_VERDICT_MATCH);
    // 80 - 3 * (8.00 * 363/365 -> 7.95) = 56.15 on the slot's day (two whole days after the records).
    const why = audit.checks.find((c) => c.name === 'experts paused for low credit')!;
    expect(why.detail).toContain(`${paused}: index 56.15 on ${dayOf(slotFrom)}`);
    expect(why.detail).toContain('threshold 60.00, credit method v1');

    // 一标一查 at Kunming for both bidders, once Guiyang's sanction on the other has arrived.
    await guiyangApi.issueSanction(sanction('GY-2026-S1', other.uscc, now));
    scratch = mkdtempSync(join(tmpdir(), 'tongxing-credit-'));
    const bundle = join(scratch, 'tender.evidence');
    const at = String(cutoffMs(tomorrow) + 10 * 3_600_000);
    const checked = await eventually('the sanction at Kunming', async () => {
      const run = await tongxing('tender', 'check', '--project', 'KM-2026-GC-009', '--bidder', bidder.uscc, '--bidder', other.uscc, '--at', new Date(Number(at)).toISOString(), '--evidence', bundle, '--json', '--node', alliance!.cities[0]!.apiAddress);
      return run.stdout.includes('GY-2026-S1') ? run : undefined;
    });
    expect(checked.code, checked.stderr).toBe(1); // flagged
    const answer = JSON.parse(checked.stdout);
    expect(answer.verdict).toBe('flagged');
    expect(answer.bidders.map((b: { uscc: string; index: string; flags: string[] }) => [b.uscc, b.index, b.flags.length])).toEqual([
      [bidder.uscc, '82.00', 0],
      [other.uscc, '40.00', 2], // restricted, and -40.00 for the serious-dishonesty listing puts it in the -2 band
    ]);
    const verified = await tongxing('evidence', 'verify', bundle, '--genesis', alliance.genesisFile);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toContain('VERIFIED');
    expect(verified.stdout).toContain('tender check (一标一查) of project KM-2026-GC-009');
    const direct = await kunming.checkTender({ projectCode: 'KM-2026-GC-010', bidders: [bidder].map((b) => ({ uscc: b.uscc, certificateDer: Buffer.alloc(0) })), atMs: 0n });
    expect(direct.answer!.verdict).toBe(TenderVerdict.TENDER_VERDICT_CLEAR);
  }, 120_000);
});
