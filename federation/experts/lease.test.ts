import { describe, expect, it } from 'vitest';
import { expertAvailabilityRecord, expertProfileRecord } from '../testing/records.js';
import { decideLease, grantConflict, leaseRecord, overlaps, type LeaseGrant } from './lease.js';
import { homeA, homeB, homeC, worldOf } from './testing.js';

const hour = 3_600_000;
const t0 = Date.UTC(2025, 5, 10, 1);
const slot = { fromMs: t0, untilMs: t0 + 4 * hour };
const world = worldOf([
  [homeB, expertProfileRecord('e.1')],
  [homeB, expertAvailabilityRecord('e.1', [[t0 - 24 * hour, t0 + 24 * hour]])],
  [homeB, expertProfileRecord('e.paused', { paused: true })],
  [homeB, expertAvailabilityRecord('e.paused', [[t0 - 24 * hour, t0 + 24 * hour]])],
]);
const expert = world.experts.get('e.1')!.expert;
const grant = (host: string, sessionId: string, fromMs: number, untilMs: number): LeaseGrant => ({ host, sessionId, fromMs, untilMs, at: { author: homeB, seq: 7, hlc: '1' } });

describe('leases at the home node', () => {
  it('overlap is of half-open intervals: back-to-back slots do not overlap', () => {
    expect(overlaps(slot, { fromMs: slot.untilMs, untilMs: slot.untilMs + hour })).toBe(false);
    expect(overlaps(slot, { fromMs: slot.untilMs - 1, untilMs: slot.untilMs + hour })).toBe(true);
    expect(overlaps(slot, { fromMs: t0 - hour, untilMs: t0 + 5 * hour })).toBe(true);
  });

  it('grants a free slot, and never one overlapping another session', () => {
    expect(decideLease(expert, [], { host: homeA, sessionId: 'KM-1', slot })).toEqual({ kind: 'grant' });
    const taken = [grant(homeA, 'KM-1', t0 + hour, t0 + 2 * hour)];
    const refused = decideLease(expert, taken, { host: homeC, sessionId: 'NN-1', slot });
    expect(refused).toMatchObject({ kind: 'refuse', reason: expect.stringContaining('already leased for an overlapping slot') });
    expect(decideLease(expert, taken, { host: homeC, sessionId: 'NN-1', slot: { fromMs: t0 + 2 * hour, untilMs: t0 + 3 * hour } })).toEqual({ kind: 'grant' });
  });

  it('answers the same grant when the same session asks again (a retried request)', () => {
    const taken = [grant(homeA, 'KM-1', slot.fromMs, slot.untilMs)];
    expect(decideLease(expert, taken, { host: homeA, sessionId: 'KM-1', slot })).toEqual({ kind: 'existing', grant: taken[0] });
    expect(decideLease(expert, taken, { host: homeA, sessionId: 'KM-1', slot: { fromMs: t0 + 5 * hour, untilMs: t0 + 6 * hour } }).kind).toBe('refuse');
  });

  it('refuses a paused expert and a slot outside its availability', () => {
    expect(decideLease(world.experts.get('e.paused')!.expert, [], { host: homeA, sessionId: 'KM-1', slot })).toEqual({ kind: 'refuse', reason: 'expert is paused' });
    expect(decideLease(expert, [], { host: homeA, sessionId: 'KM-1', slot: { fromMs: t0 + 20 * hour, untilMs: t0 + 30 * hour } })).toMatchObject({ kind: 'refuse' });
  });

  it('the views reject a grant overlapping an earlier one of the same home node: a double booking counts for nothing', () => {
    const doubled = worldOf([
      [homeB, expertProfileRecord('e.1')],
      [homeB, { kind: { $case: 'expertLease', value: leaseRecord('e.1', { host: homeA, sessionId: 'KM-1', slot }) } }],
      [homeB, { kind: { $case: 'expertLease', value: leaseRecord('e.1', { host: homeC, sessionId: 'NN-1', slot }) } }],
    ]);
    expect(doubled.experts.get('e.1')!.leases.map((l) => l.sessionId)).toEqual(['KM-1']);
    expect(grantConflict(doubled.experts.get('e.1')!.leases, { host: homeC, sessionId: 'NN-1', slot })).toMatch(/overlapping/);
  });

  it('leases written by a member that is not the home node are ignored', () => {
    const foreign = worldOf([
      [homeB, expertProfileRecord('e.1')],
      [homeC, { kind: { $case: 'expertLease', value: leaseRecord('e.1', { host: homeA, sessionId: 'KM-1', slot }) } }],
    ]);
    expect(foreign.experts.get('e.1')!.leases).toEqual([]);
  });
});
