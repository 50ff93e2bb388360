/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week),
 * the Vixie way: `*`, lists, ranges, steps, month and weekday names, 7 as
 * Sunday, and day-of-month OR day-of-week when both are restricted.
 */
import type { LocalTime } from './time-zones.js';

export interface CronExpression {
  source: string;
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  dayRestricted: boolean;
  weekdayRestricted: boolean;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function parseField(text: string, min: number, max: number, names: string[] = [], nameOffset = 0): Set<number> | string {
  const values = new Set<number>();
  const value = (token: string): number => {
    const index = names.indexOf(token.toLowerCase());
    return index >= 0 ? index + nameOffset : /^\d+$/.test(token) ? Number(token) : NaN;
  };
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!range || !Number.isInteger(step) || step < 1) return `"${part}" is not a valid cron field part`;
    let from: number;
    let to: number;
    if (range === '*') [from, to] = [min, max];
    else if (range.includes('-')) {
      const [a, b] = range.split('-');
      [from, to] = [value(a ?? ''), value(b ?? '')];
    } else {
      from = value(range);
      to = stepText === undefined ? from : max;
    }
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < min || to > max || from > to) {
      return `"${part}" is outside ${min}-${max}`;
    }
    for (let current = from; current <= to; current += step) values.add(current);
  }
  return values;
}

/** Parses an expression, or returns a message naming what is wrong. */
export function parseCron(source: string): CronExpression | string {
  const fields = source.trim().split(/\s+/);
  if (fields.length !== 5) return `"${source}" needs 5 fields (minute hour day-of-month month day-of-week)`;
  const [minute, hour, day, month, weekday] = fields as [string, string, string, string, string];
  const parsed = [
    parseField(minute, 0, 59),
    parseField(hour, 0, 23),
    parseField(day, 1, 31),
    parseField(month, 1, 12, MONTHS, 1),
    parseField(weekday, 0, 7, DAYS, 0),
  ];
  const problem = parsed.find((field): field is string => typeof field === 'string');
  if (problem) return `cron "${source}": ${problem}`;
  const [minutes, hours, days, months, weekdays] = parsed as Set<number>[];
  if (weekdays!.has(7)) weekdays!.add(0);
  return {
    source,
    minutes: minutes!,
    hours: hours!,
    days: days!,
    months: months!,
    weekdays: weekdays!,
    dayRestricted: day !== '*',
    weekdayRestricted: weekday !== '*',
  };
}

export function cronMatches(cron: CronExpression, time: LocalTime): boolean {
  if (!cron.minutes.has(time.minute) || !cron.hours.has(time.hour) || !cron.months.has(time.month)) return false;
  const dayOk = cron.days.has(time.day);
  const weekdayOk = cron.weekdays.has(time.weekday);
  if (cron.dayRestricted && cron.weekdayRestricted) return dayOk || weekdayOk;
  return dayOk && weekdayOk;
}
