import { addCalendarMonths } from './dates.js';

// How long a sanction is published when its decision does not say
// (docs/DOMAIN.md, "Sanctions: lists, publication and restriction"): bidding
// violation records are published for six months, and a longer restriction
// prevails, so the record stays public while it restricts. Months are calendar months in China
// Standard Time (addCalendarMonths: 31 August + 6 months is the end of February).

/** Months a bidding violation record is published at least. */
export const publicationMonthsMin = 6;

/** The end of the publication window that starts at `fromMs`, for a restriction ending at `restrictionUntilMs`. */
export function defaultPublicationUntilMs(fromMs: number, restrictionUntilMs: number): number {
  return Math.max(addCalendarMonths(fromMs, publicationMonthsMin), restrictionUntilMs);
}
