// The one reader of dates and times that people type (import files, CLI options).
// Strict: a text is read only when it names a real instant, so "2026-02-30" is
// refused instead of rolling over to 2 March the way Date.parse and Date.UTC do.
// Pure. Forms (ISO 8601 profiles):
//   date    2025-03-01                     00:00 China Standard Time that day
//   local   2025-03-01 14:30[:05[.123]]    China Standard Time ("T" instead of the space too)
//   zoned   2025-03-01T14:30[:05[.123]]Z   or +08:00 / -05:00: that zone
// Calendar-valid means: month 01-12, day within its month (Gregorian leap years),
// hour 00-23, minute and second 00-59 (no 24:00, no leap second), zone offset
// within ±14:00 with minutes 00-59.

/** China Standard Time is UTC+8 all year (no daylight saving since 1991). */
export const chinaOffsetMs = 8 * 3_600_000;

export type TimeForm = 'date' | 'local' | 'zoned';

const formExamples: Record<TimeForm, string> = {
  date: 'a date (2025-03-01, taken as 00:00 +08:00)',
  local: 'a China Standard Time (2025-03-01 14:30:00)',
  zoned: 'a time with its zone (2025-03-01T14:30:00+08:00, or Z)',
};

/** The accepted forms as a phrase for error messages: "a date (...), ... or a time with its zone (...)". */
export function timeFormsText(forms: readonly TimeForm[]): string {
  const shown = forms.map((form) => formExamples[form]);
  return shown.length < 2 ? shown.join('') : `${shown.slice(0, -1).join(', ')} or ${shown[shown.length - 1]}`;
}

const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/;
const timePattern = /^(\d{4})-(\d{2})-(\d{2})([ T])(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})?$/;

const monthNames = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** Days in `month` (1-12) of `year`, Gregorian. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Unix ms of a UTC calendar time already checked; setUTCFullYear, unlike Date.UTC, keeps years 0-99 as written. */
function utcMs(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, millisecond = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millisecond);
  return date.getTime();
}

/**
 * Unix ms of `text` in one of `forms`, or the reason it is not one: `spelling`
 * when it is none of the forms (the problem names them), else a calendar or
 * clock value out of range ("February 2026 has 28 days").
 */
export function readTime(text: string, forms: readonly TimeForm[]): { ms: number } | { problem: string; spelling?: true } {
  const unreadable = { problem: `${JSON.stringify(text)} is not ${timeFormsText(forms)}`, spelling: true } as const;
  let year: number, month: number, day: number;
  let hour = 0, minute = 0, second = 0, millisecond = 0;
  let offsetMs = chinaOffsetMs;
  const date = datePattern.exec(text);
  const time = date ? null : timePattern.exec(text);
  if (date) {
    if (!forms.includes('date')) return unreadable;
    [year, month, day] = [Number(date[1]), Number(date[2]), Number(date[3])];
  } else if (time) {
    const zone = time[9];
    if (zone === undefined ? !forms.includes('local') : !forms.includes('zoned') || time[4] !== 'T') return unreadable;
    [year, month, day, hour, minute] = [1, 2, 3, 5, 6].map((i) => Number(time[i])) as [number, number, number, number, number];
    second = Number(time[7] ?? 0);
    millisecond = Number((time[8] ?? '0').padEnd(3, '0'));
    if (zone === 'Z') offsetMs = 0;
    else if (zone !== undefined) {
      const [zoneHours, zoneMinutes] = [Number(zone.slice(1, 3)), Number(zone.slice(4, 6))];
      if (zoneMinutes > 59 || zoneHours * 60 + zoneMinutes > 14 * 60) return { problem: `${JSON.stringify(text)}: zone offset ${zone} is not between -14:00 and +14:00` };
      offsetMs = (zone[0] === '-' ? -1 : 1) * (zoneHours * 60 + zoneMinutes) * 60_000;
    }
  } else {
    return unreadable;
  }
  if (month < 1 || month > 12) return { problem: `${JSON.stringify(text)}: month ${month} is not 01-12` };
  if (day < 1 || day > daysInMonth(year, month)) {
    return { problem: `${JSON.stringify(text)} is not a calendar date: ${monthNames[month - 1]} ${year} has ${daysInMonth(year, month)} days` };
  }
  if (hour > 23) return { problem: `${JSON.stringify(text)}: hour ${hour} is not 00-23` };
  if (minute > 59) return { problem: `${JSON.stringify(text)}: minute ${minute} is not 00-59` };
  if (second > 59) return { problem: `${JSON.stringify(text)}: second ${second} is not 00-59` };
  return { ms: utcMs(year, month, day, hour, minute, second, millisecond) - offsetMs };
}

const dayMs = 86_400_000;

/**
 * `months` calendar months after `ms` in China Standard Time, at the same time
 * of day; a day the target month lacks becomes its last day (31 August + 6
 * months is 28 or 29 February, not 2 or 3 March).
 */
export function addCalendarMonths(ms: number, months: number): number {
  const cst = new Date(ms + chinaOffsetMs);
  const total = cst.getUTCFullYear() * 12 + cst.getUTCMonth() + months;
  const [year, month] = [Math.floor(total / 12), (total % 12) + 1];
  const day = Math.min(cst.getUTCDate(), daysInMonth(year, month));
  const timeOfDayMs = (((ms + chinaOffsetMs) % dayMs) + dayMs) % dayMs;
  return utcMs(year, month, day) + timeOfDayMs - chinaOffsetMs;
}
