import { ValidationError } from '../errors.js';
import { chinaOffsetMs, readTime } from '../records/dates.js';

// The credit index is computed per day: the day's cut-off is 00:00 China
// Standard Time (UTC+8, no daylight saving), and the index of day D counts
// exactly the records recorded before it. A day is named as YYYY-MM-DD.

export const dayMs = 86_400_000;

/** Unix ms of 00:00 CST of `day` (YYYY-MM-DD); ValidationError naming `field` for anything else. */
export function cutoffMs(day: string, field = 'day'): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new ValidationError(field, `${JSON.stringify(day)} is not a day (YYYY-MM-DD)`);
  const read = readTime(day, ['date']);
  if ('problem' in read) throw new ValidationError(field, read.problem);
  return read.ms;
}

/** The CST day containing `ms`. */
export function dayOf(ms: number): string {
  return new Date(ms + chinaOffsetMs).toISOString().slice(0, 10);
}

/** Whole days from `fromMs` to `toMs` (0 when toMs is not after fromMs). */
export function wholeDays(fromMs: number, toMs: number): number {
  return toMs <= fromMs ? 0 : Math.floor((toMs - fromMs) / dayMs);
}
