import { describe, expect, it } from 'vitest';
import { evaluationSession, expertProfile, usccFor } from '../testing/records.js';
import { avoidanceConflicts, calendarYearsBefore } from './avoidance.js';

const day = 86_400_000;
const windowFrom = Date.UTC(2025, 5, 10, 1); // 2025-06-10 09:00 +08:00
const session = evaluationSession(windowFrom, { bidders: [usccFor(101), usccFor(102)], tenderers: [usccFor(201)], agencies: [usccFor(301)] });
const threeYearsBefore = Date.UTC(2022, 5, 10, 1);

const employedBy = (uscc: string, fromMs: number, untilMs: number) => expertProfile('km.e-1', { employment: [[uscc, fromMs, untilMs]] });

describe('avoidance (回避): employer now or within 3 years is a party', () => {
  it('counts three calendar years back from the start of the slot', () => {
    expect(calendarYearsBefore(windowFrom, 3)).toBe(threeYearsBefore);
    expect(calendarYearsBefore(Date.UTC(2024, 1, 29), 1)).toBe(Date.UTC(2023, 2, 1)); // 29 Feb moves to 1 Mar
  });

  it('a current employee of a bidder, the tenderer or the agency conflicts', () => {
    for (const [uscc, role] of [[usccFor(101), 'bidder'], [usccFor(201), 'tenderer'], [usccFor(301), 'agency']] as const) {
      expect(avoidanceConflicts(employedBy(uscc, Date.UTC(2010, 0, 1), 0), session)).toEqual([{ employerUscc: uscc, role, untilMs: undefined }]);
    }
  });

  it('a bidder employee who left 2 years 364 days before conflicts; one who left exactly 3 years before does not', () => {
    const justInside = threeYearsBefore + day;
    expect(avoidanceConflicts(employedBy(usccFor(102), Date.UTC(2015, 0, 1), justInside), session)).toHaveLength(1);
    expect(avoidanceConflicts(employedBy(usccFor(102), Date.UTC(2015, 0, 1), threeYearsBefore), session)).toEqual([]);
    expect(avoidanceConflicts(employedBy(usccFor(102), Date.UTC(2015, 0, 1), Date.UTC(2020, 0, 1)), session)).toEqual([]);
  });

  it('employers that are not parties never conflict, and employment starting after the slot does not count', () => {
    expect(avoidanceConflicts(employedBy(usccFor(999), Date.UTC(2010, 0, 1), 0), session)).toEqual([]);
    expect(avoidanceConflicts(employedBy(usccFor(101), windowFrom + 30 * day, 0), session)).toEqual([]);
  });
});
