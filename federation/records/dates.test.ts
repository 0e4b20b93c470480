import { describe, expect, it } from 'vitest';
import { addCalendarMonths, daysInMonth, readTime, type TimeForm } from './dates.js';

// The one reader of typed dates: strict where Date.parse rolls over (issue 12:
// "2026-02-30" was read as 2 March 2026).

const all: TimeForm[] = ['date', 'local', 'zoned'];
const ms = (text: string) => {
  const read = readTime(text, all);
  if ('problem' in read) throw new Error(read.problem);
  return read.ms;
};
const problem = (text: string, forms: TimeForm[] = all) => {
  const read = readTime(text, forms);
  return 'problem' in read ? read.problem : `read as ${new Date(read.ms).toISOString()}`;
};

describe('readTime', () => {
  it('reads a date as 00:00 China Standard Time, a local time as CST, a zoned time in its zone', () => {
    expect(ms('2025-03-01')).toBe(Date.parse('2025-02-28T16:00:00Z'));
    expect(ms('2025-03-01 14:30')).toBe(Date.parse('2025-03-01T06:30:00Z'));
    expect(ms('2025-03-01T14:30:05.5')).toBe(Date.parse('2025-03-01T06:30:05.500Z'));
    expect(ms('2025-03-01T14:30:05.123Z')).toBe(Date.parse('2025-03-01T14:30:05.123Z'));
    expect(ms('2025-03-01T14:30-05:30')).toBe(Date.parse('2025-03-01T20:00:00Z'));
    expect(ms('2024-02-29')).toBe(Date.parse('2024-02-28T16:00:00Z'));
  });

  it('refuses impossible dates and times that Date.parse rolls over, saying why', () => {
    expect(Date.parse('2026-02-30T00:00:00+08:00')).toBe(Date.parse('2026-03-01T16:00:00Z')); // the bug: 2 March CST
    expect(problem('2026-02-30')).toBe('"2026-02-30" is not a calendar date: February 2026 has 28 days');
    expect(problem('2026-02-30 09:00:00')).toMatch(/February 2026 has 28 days/);
    expect(problem('2026-02-30T09:00:00Z')).toMatch(/February 2026 has 28 days/);
    expect(problem('2025-02-29')).toMatch(/February 2025 has 28 days/);
    expect(problem('1900-02-29')).toMatch(/February 1900 has 28 days/); // not a leap year (century)
    expect(problem('2025-04-31')).toMatch(/April 2025 has 30 days/);
    expect(problem('2025-00-10')).toMatch(/month 0 is not 01-12/);
    expect(problem('2025-13-01')).toMatch(/month 13 is not 01-12/);
    expect(problem('2025-01-00')).toMatch(/January 2025 has 31 days/);
    expect(problem('2025-03-01 24:00')).toMatch(/hour 24 is not 00-23/);
    expect(problem('2025-03-01 12:60')).toMatch(/minute 60/);
    expect(problem('2025-03-01 23:59:60')).toMatch(/second 60/);
    expect(problem('2025-03-01T12:00+15:00')).toMatch(/zone offset \+15:00/);
    expect(problem('2025-03-01T12:00+08:60')).toMatch(/zone offset \+08:60/);
  });

  it('refuses other spellings, naming the accepted forms', () => {
    for (const text of ['01/03/2025', '2025-3-1', '2025-03-01 ', 'yesterday', '', '20250301', '2025-03-01 14:30+08:00', '2025-03-01T14:30:05.1234Z', '２０２５-03-01']) {
      expect(problem(text), text).toMatch(/is not a date \(2025-03-01, taken as 00:00 \+08:00\), a China Standard Time \(2025-03-01 14:30:00\) or a time with its zone/);
    }
  });

  it('reads only the forms asked for', () => {
    expect(problem('2025-03-01 14:30', ['date', 'zoned'])).toBe('"2025-03-01 14:30" is not a date (2025-03-01, taken as 00:00 +08:00) or a time with its zone (2025-03-01T14:30:00+08:00, or Z)');
    expect(problem('2025-03-01', ['zoned'])).toMatch(/is not a time with its zone/);
    expect(problem('2025-03-01T14:30Z', ['date', 'local'])).toMatch(/is not a date/);
  });

  it('agrees with Date.UTC on every calendar day 1970-2199, and refuses the day after each month ends', () => {
    for (let year = 1970; year < 2200; year++) {
      for (let month = 1; month <= 12; month++) {
        const days = daysInMonth(year, month);
        expect(new Date(Date.UTC(year, month - 1, days + 1)).getUTCDate()).toBe(1); // the model: the next day is the 1st
        const mm = String(month).padStart(2, '0');
        for (let day = 1; day <= days; day++) {
          const dd = String(day).padStart(2, '0');
          const read = readTime(`${year}-${mm}-${dd}T12:00Z`, all);
          if (!('ms' in read) || read.ms !== Date.UTC(year, month - 1, day, 12)) expect(read, `${year}-${mm}-${dd}`).toEqual({ ms: Date.UTC(year, month - 1, day, 12) });
        }
        if (days < 31) expect(readTime(`${year}-${mm}-${days + 1}`, all), `${year}-${mm}-${days + 1}`).toHaveProperty('problem');
      }
    }
  });

  it('keeps years below 100 as written (Date.UTC would add 1900)', () => {
    expect(new Date(ms('0050-06-01T00:00Z')).getUTCFullYear()).toBe(50);
  });
});

describe('addCalendarMonths', () => {
  const cst = (text: string) => ms(text);
  it('moves by calendar months in China Standard Time, keeping the time of day', () => {
    expect(addCalendarMonths(cst('2025-03-01'), 6)).toBe(cst('2025-09-01'));
    expect(addCalendarMonths(cst('2025-03-01 14:30'), 6)).toBe(cst('2025-09-01 14:30'));
    expect(addCalendarMonths(cst('2025-09-15'), 6)).toBe(cst('2026-03-15'));
    expect(addCalendarMonths(cst('2025-03-01'), -3)).toBe(cst('2024-12-01'));
  });

  it('ends on the last day of a shorter month instead of rolling over', () => {
    expect(addCalendarMonths(cst('2025-08-31'), 6)).toBe(cst('2026-02-28'));
    expect(addCalendarMonths(cst('2023-08-31'), 6)).toBe(cst('2024-02-29'));
    expect(addCalendarMonths(cst('2025-12-31 23:59'), 6)).toBe(cst('2026-06-30 23:59'));
  });
});
