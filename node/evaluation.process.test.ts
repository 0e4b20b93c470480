import { afterEach, describe, expect, it } from 'vitest';
import { AuditVerdict } from '../gen/tongxing/api/v1/experts.js';
import { LeaseOutcome } from '../gen/tongxing/records/v1/records.js';
import { evaluationSession, expertProfile, residentId } from '../federation/testing/records.js';
import { connectExperts, type ExpertsClient } from './api/experts-client.js';
import { startLocalAlliance, type LocalAlliance } from './local-alliance.js';
import { eventually } from '../federation/testing/eventually.js';

// Remote evaluation on real node processes (bin/tongxing.js from dist/: `make
// test` builds first): two cities draw from a third city's experts for the same
// slot at the same time; the home node's leases never double-book, and the
// third city's audit of both draws matches.

const dayMs = 86_400_000;
let alliance: LocalAlliance | undefined;
let clients: ExpertsClient[] = [];
afterEach(async () => {
  for (const client of clients) client.close();
  clients = [];
  await alliance?.stop();
  alliance = undefined;
});

let person = 0;

describe('remote evaluation across node processes', () => {
  it('two cities drawing concurrently never double-book an expert, and a third city audits both draws', async () => {
    alliance = await startLocalAlliance({ cities: 3, beaconIntervalMs: 1000 });
    const [kunming, guiyang, nanning] = alliance.cities.map((c) => connectExperts(c.apiAddress)) as [ExpertsClient, ExpertsClient, ExpertsClient];
    clients = [kunming, guiyang, nanning];
    const slotFrom = Date.now() + 3 * dayMs;
    const refs: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { expertRef } = await nanning.registerExpert(
        { idCardNumber: residentId('450102', '19700101', 100 + ++person), name: `专家${i}`, phone: '13900000000', birthday: '1970-01-01', employerName: '' },
        { ...expertProfile('', { specialties: ['A0801'], regionCode: '450100' }), expertRef: '' },
      );
      await nanning.setAvailability({ expertRef, windows: [{ fromMs: BigInt(slotFrom - dayMs), untilMs: BigInt(slotFrom + dayMs) }] });
      refs.push(expertRef);
    }
    for (const host of [kunming, guiyang]) {
      await eventually('the experts at the hosts', async () => ((await Promise.all(refs.map((r) => host.getExpert(r)))).every((e) => e.found) ? true : undefined));
    }
    await kunming.createSession(evaluationSession(slotFrom, { sessionId: 'KM-2026-0001', otherCitiesOnly: true, requirements: [['A08', 2]], hostRegionCode: '530100' }));
    await guiyang.createSession(evaluationSession(slotFrom, { sessionId: 'GY-2026-0001', otherCitiesOnly: true, requirements: [['A08', 2]], hostRegionCode: '520100' }));

    const [a, b] = await Promise.all([kunming.drawExperts('KM-2026-0001'), guiyang.drawExperts('GY-2026-0001')]);
    const seated = [...a.panel, ...b.panel].map((seat) => seat.expertRef);
    expect(new Set(seated).size, `panels ${JSON.stringify(seated)} attempts ${JSON.stringify([...a.attempts, ...b.attempts].map((x) => [x.outcome?.sessionId, x.outcome?.expertRef, x.outcome?.outcome, x.outcome?.reason]))}`).toBe(seated.length); // nobody twice in one slot
    expect(seated.every((ref) => refs.includes(ref))).toBe(true);
    // Three experts for four seats: every expert is seated once, unless its home node could not be reached in time
    // (recorded as unreachable, a legitimate outcome), and every empty seat is counted as a shortfall.
    const attempts = [...a.attempts, ...b.attempts].map((x) => x.outcome!);
    for (const ref of refs.filter((r) => !seated.includes(r))) {
      expect(attempts.some((o) => o.expertRef === ref && o.outcome === LeaseOutcome.LEASE_OUTCOME_UNREACHABLE), `${ref} neither seated nor unreachable`).toBe(true);
    }
    expect(seated.length + [...a.shortfall, ...b.shortfall].reduce((x, y) => x + y, 0)).toBe(4);

    for (const sessionId of ['KM-2026-0001', 'GY-2026-0001']) {
      const audit = await eventually(`the audit of ${sessionId} at Nanning`, async () => {
        const result = await nanning.auditDraw(sessionId);
        return result.verdict === AuditVerdict.AUDIT_VERDICT_INCOMPLETE ? undefined : result;
      });
      expect(audit.verdict, JSON.stringify(audit.checks.filter((c) => !c.ok))).toBe(AuditVerdict.AUDIT_VERDICT_MATCH);
    }
  }, 120_000);
});
