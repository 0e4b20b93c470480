import type { EvaluationSession, ExpertProfile } from '../../gen/tongxing/records/v1/records.js';

// Avoidance (回避), docs/DOMAIN.md "Expert avoidance": an expert may not evaluate a procurement when
// they are employed by, or within the last 3 years were employed by, a bidder
// or supplier; or are staff of the tenderer or purchaser. The alliance applies
// the same 3-year look-back to tenderers and agencies (a former employee of the
// tenderer or of its agency is no more independent than one of a bidder's).
// Director, shareholder, interest and near-relative conflicts are declared and
// checked at sign-in, outside the records; sanctioned experts are excluded by
// the draw's sanctions check.

export const avoidanceLookbackYears = 3;

export type PartyRole = 'bidder' | 'tenderer' | 'agency';

export interface AvoidanceConflict {
  readonly employerUscc: string;
  readonly role: PartyRole;
  /** Still employed (open-ended employment), or left at untilMs. */
  readonly untilMs: number | undefined;
}

/**
 * `ms` moved back by whole calendar years (UTC): 2025-06-01 -> 2022-06-01.
 * A 29 February moves to 1 March, the later of the two readings (stricter).
 */
export function calendarYearsBefore(ms: number, years: number): number {
  const date = new Date(ms);
  date.setUTCFullYear(date.getUTCFullYear() - years);
  return date.getTime();
}

/** The parties of the session, by role. A USCC listed under two roles conflicts under the first. */
function partiesOf(session: EvaluationSession): Map<string, PartyRole> {
  const parties = new Map<string, PartyRole>();
  for (const [role, usccs] of [
    ['bidder', session.bidderUsccs],
    ['tenderer', session.tendererUsccs],
    ['agency', session.agencyUsccs],
  ] as const) {
    for (const uscc of usccs) if (!parties.has(uscc)) parties.set(uscc, role);
  }
  return parties;
}

/**
 * Every employment of `profile` that conflicts with the session: its employer
 * is a party, and the employment overlaps the look-back period [window start
 * - 3 years, window end). Empty: no avoidance conflict on the record.
 */
export function avoidanceConflicts(profile: ExpertProfile, session: EvaluationSession): AvoidanceConflict[] {
  const windowFromMs = Number(session.window!.fromMs);
  const windowUntilMs = Number(session.window!.untilMs);
  const lookbackFromMs = calendarYearsBefore(windowFromMs, avoidanceLookbackYears);
  const parties = partiesOf(session);
  const conflicts: AvoidanceConflict[] = [];
  for (const employment of profile.employment) {
    const role = parties.get(employment.employerUscc);
    if (role === undefined) continue;
    const fromMs = Number(employment.period!.fromMs);
    const untilMs = employment.period!.untilMs === 0n ? undefined : Number(employment.period!.untilMs);
    const overlaps = fromMs < windowUntilMs && (untilMs === undefined || untilMs > lookbackFromMs);
    if (overlaps) conflicts.push({ employerUscc: employment.employerUscc, role, untilMs });
  }
  return conflicts;
}
