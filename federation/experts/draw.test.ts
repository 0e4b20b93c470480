import { describe, expect, it } from 'vitest';
import { Exclusion, LeaseOutcome, type EvaluationOutcome, type Record } from '../../gen/tongxing/records/v1/records.js';
import {
  evaluationSession,
  expertAvailabilityRecord,
  expertProfileRecord,
  expertSanctionRecord,
  sanctionLift,
  usccFor,
  type ExpertOptions,
} from '../testing/records.js';
import { drawOrders, nextAttempt, replayOutcomes } from './draw.js';
import { candidatesFor } from './eligibility.js';
import { leaseRecord } from './lease.js';
import { homeA, homeB, homeC, worldEntries, worldOf } from './testing.js';
import { buildWorld } from './world.js';

const day = 86_400_000;
const slotFrom = Date.UTC(2025, 5, 10, 1);
const slotUntil = slotFrom + 4 * 3_600_000;
const wholeJune: Array<readonly [number, number]> = [[Date.UTC(2025, 5, 1), Date.UTC(2025, 6, 1)]];
const seed = Buffer.alloc(32, 9);

/** An available expert homed at `home`: a profile and a June availability. */
function expert(home: string, ref: string, options?: ExpertOptions): Array<readonly [string, Record]> {
  return [
    [home, expertProfileRecord(ref, options)],
    [home, expertAvailabilityRecord(ref, wholeJune)],
  ];
}

describe('candidates (eligibility)', () => {
  it('excludes paused, sanctioned, conflicted, same-city, unavailable and leased experts, each with its reason', () => {
    const session = evaluationSession(slotFrom, { otherCitiesOnly: true, hostRegionCode: '530100' });
    const world = worldOf([
      ...expert(homeB, 'gy.ok', { regionCode: '520100' }),
      ...expert(homeB, 'gy.paused', { regionCode: '520100', paused: true }),
      ...expert(homeB, 'gy.sanctioned', { regionCode: '520100' }),
      [homeC, expertSanctionRecord('NN-1', 'gy.sanctioned', slotFrom - 30 * day)],
      ...expert(homeB, 'gy.bidder-staff', { regionCode: '520102', employment: [[usccFor(102), Date.UTC(2012, 0, 1), 0]] }),
      ...expert(homeA, 'km.local', { regionCode: '530102' }),
      [homeB, expertProfileRecord('gy.never-available', { regionCode: '520100' })],
      ...expert(homeB, 'gy.leased', { regionCode: '520100' }),
      [homeB, { kind: { $case: 'expertLease', value: leaseRecord('gy.leased', { host: homeC, sessionId: 'NN-9', slot: { fromMs: slotFrom - 3_600_000, untilMs: slotFrom + 3_600_000 } }) } }],
      ...expert(homeB, 'gy.other-specialty', { regionCode: '520100', specialties: ['C0501'] }),
    ]);
    const [list] = candidatesFor(session, world);
    expect(list!.candidates).toEqual(['gy.ok']);
    expect(list!.excluded).toEqual([
      { expertRef: 'gy.bidder-staff', reason: Exclusion.EXCLUSION_AVOIDANCE },
      { expertRef: 'gy.leased', reason: Exclusion.EXCLUSION_LEASED },
      { expertRef: 'gy.never-available', reason: Exclusion.EXCLUSION_UNAVAILABLE },
      { expertRef: 'gy.paused', reason: Exclusion.EXCLUSION_PAUSED },
      { expertRef: 'gy.sanctioned', reason: Exclusion.EXCLUSION_SANCTIONED },
      { expertRef: 'km.local', reason: Exclusion.EXCLUSION_SAME_CITY },
    ]);
  });

  it('a sanction counts as of the start of the slot: lifted before, expired before, or alert-only does not exclude', () => {
    const session = evaluationSession(slotFrom);
    const world = worldOf([
      ...expert(homeB, 'e.lifted'),
      [homeC, expertSanctionRecord('S-1', 'e.lifted', slotFrom - 60 * day)],
      [homeC, sanctionLift('S-1', slotFrom - day)],
      ...expert(homeB, 'e.expired'),
      [homeC, expertSanctionRecord('S-2', 'e.expired', slotFrom - 60 * day, 30)],
      ...expert(homeB, 'e.future'),
      [homeC, expertSanctionRecord('S-3', 'e.future', slotFrom + day)],
      ...expert(homeB, 'e.banned'),
      [homeC, expertSanctionRecord('S-4', 'e.banned', slotFrom - day)],
    ]);
    expect(candidatesFor(session, world)[0]!.candidates).toEqual(['e.expired', 'e.future', 'e.lifted']);
  });

  it('a lift by another member than the issuer does not lift the sanction', () => {
    const session = evaluationSession(slotFrom);
    const world = worldOf([...expert(homeB, 'e.x'), [homeC, expertSanctionRecord('S-1', 'e.x', slotFrom - 60 * day)], [homeA, sanctionLift('S-1', slotFrom - day)]]);
    expect(candidatesFor(session, world)[0]!.excluded).toEqual([{ expertRef: 'e.x', reason: Exclusion.EXCLUSION_SANCTIONED }]);
  });

  it('only the home node (earliest profile) speaks for an expert: another member cannot pause or unpause it', () => {
    const session = evaluationSession(slotFrom);
    const world = worldOf([...expert(homeB, 'e.x'), [homeC, expertProfileRecord('e.x', { paused: true })]]);
    expect(candidatesFor(session, world)[0]!.candidates).toEqual(['e.x']);
  });

  it('an availability window must cover the whole slot', () => {
    const session = evaluationSession(slotFrom);
    const world = worldOf([
      [homeB, expertProfileRecord('e.partial')],
      [homeB, expertAvailabilityRecord('e.partial', [[slotFrom, slotUntil - 1]])],
      [homeB, expertProfileRecord('e.exact')],
      [homeB, expertAvailabilityRecord('e.exact', [[slotFrom, slotUntil]])],
    ]);
    expect(candidatesFor(session, world)[0]!.candidates).toEqual(['e.exact']);
  });

  it('the world does not depend on the order records arrive in (any interleaving of authors)', () => {
    const records: Array<readonly [string, Record]> = [
      ...expert(homeB, 'e.1'),
      [homeC, expertProfileRecord('e.1', { paused: true })],
      [homeC, expertSanctionRecord('S-1', 'e.2', slotFrom - day)],
      ...expert(homeA, 'e.2'),
      [homeC, sanctionLift('S-1', slotFrom - 1)],
      ...expert(homeC, 'e.3', { regionCode: '450100' }),
    ];
    const entries = worldEntries(records);
    const session = evaluationSession(slotFrom);
    const expected = drawOrders(session, seed, buildWorld(entries));
    for (let trial = 0; trial < 20; trial++) {
      // Interleave authors at random but keep each author's own order.
      const queues = new Map<string, typeof entries>();
      for (const e of entries) queues.set(e.at.author, [...(queues.get(e.at.author) ?? []), e]);
      const mixed: typeof entries = [];
      let state = trial + 1;
      while ([...queues.values()].some((q) => q.length > 0)) {
        const open = [...queues.values()].filter((q) => q.length > 0);
        state = (state * 1103515245 + 12345) % 2 ** 31;
        mixed.push(open[state % open.length]!.shift()!);
      }
      expect(drawOrders(session, seed, buildWorld(mixed)), `trial ${trial}`).toEqual(expected);
    }
  });
});

describe('draw and walk', () => {
  const refs = ['n.1', 'n.2', 'n.3', 'n.4', 'n.5', 'n.6'];
  const world = worldOf(refs.flatMap((ref, i) => expert(i < 3 ? homeB : homeC, ref, { regionCode: i < 3 ? '520100' : '450100' })));
  const regionOf = (ref: string) => world.experts.get(ref)!.expert.profile.regionCode;

  it('orders the candidates by a seeded shuffle of their sorted refs, per requirement', () => {
    const session = evaluationSession(slotFrom, { requirements: [['A08', 2], ['A0801', 1]] });
    const orders = drawOrders(session, seed, world);
    expect([...orders[0]!.expertRefs].sort()).toEqual(refs);
    expect(orders[0]!.expertRefs).not.toEqual(refs); // shuffled (for this seed)
    expect(orders[1]!.expertRefs).not.toEqual(orders[0]!.expertRefs); // another stream per requirement
    expect(drawOrders(session, seed, world)).toEqual(orders);
  });

  function outcome(requirementIndex: number, expertRef: string, granted: boolean): EvaluationOutcome {
    return {
      sessionId: 'KM-2025-0001',
      requirementIndex,
      expertRef,
      outcome: granted ? LeaseOutcome.LEASE_OUTCOME_GRANTED : LeaseOutcome.LEASE_OUTCOME_REFUSED,
      reason: granted ? '' : 'already leased',
      homeNode: Buffer.from(homeB, 'hex'),
      leaseSeq: 1n,
    };
  }

  it('walks the drawn order, falls through on refusal, never asks an expert twice, and fills every requirement', () => {
    const session = evaluationSession(slotFrom, { requirements: [['A08', 2], ['A0801', 1]] });
    const orders = drawOrders(session, seed, world);
    const outcomes: EvaluationOutcome[] = [];
    const refusing = new Set([orders[0]!.expertRefs[1]!]);
    for (;;) {
      const next = nextAttempt(session, orders, replayOutcomes(session, outcomes, regionOf), regionOf);
      if (!next) break;
      outcomes.push(outcome(next.requirementIndex, next.expertRef, !refusing.has(next.expertRef)));
    }
    const [a, b, c] = orders[0]!.expertRefs;
    expect(outcomes.slice(0, 3).map((o) => [o.requirementIndex, o.expertRef])).toEqual([[0, a], [0, b], [0, c]]);
    const state = replayOutcomes(session, outcomes, regionOf);
    expect(state.seats.map((s) => s.requirementIndex)).toEqual([0, 0, 1]);
    expect(state.open).toEqual([0, 0]);
    expect(new Set(state.seats.map((s) => s.expertRef)).size).toBe(3);
    expect(state.seats[2]!.expertRef).toBe(orders[1]!.expertRefs.find((r) => r !== a && r !== b && r !== c));
  });

  it('per-city quotas skip candidates from a city that has its share', () => {
    const session = evaluationSession(slotFrom, { requirements: [['A08', 4]], cityQuotas: [['520100', 1], ['450100', 2]] });
    const orders = drawOrders(session, seed, world);
    const outcomes: EvaluationOutcome[] = [];
    for (;;) {
      const next = nextAttempt(session, orders, replayOutcomes(session, outcomes, regionOf), regionOf);
      if (!next) break;
      outcomes.push(outcome(next.requirementIndex, next.expertRef, true));
    }
    const seats = replayOutcomes(session, outcomes, regionOf).seats.map((s) => regionOf(s.expertRef));
    expect(seats.filter((r) => r === '520100')).toHaveLength(1);
    expect(seats.filter((r) => r === '450100')).toHaveLength(2);
    expect(replayOutcomes(session, outcomes, regionOf).open).toEqual([1]); // quotas leave a seat empty: reported, not forced
  });

  it('the draw record stays bounded', () => {
    const many = worldOf(Array.from({ length: 1001 }, (_, i) => [homeB, expertProfileRecord(`e.${i}`)] as const));
    expect(() => drawOrders(evaluationSession(slotFrom), seed, many)).toThrow(/drawListedExpertsMax 1000/);
  });
});
