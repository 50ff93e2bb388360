/**
 * Wall-clock fields of an instant in an IANA time zone, through Intl (no
 * library, deterministic for a given instant), so "Sunday 02:00 in
 * Europe/Berlin" means the same thing in summer and in winter.
 */
export interface LocalTime {
  year: number;
  month: number; // 1-12
  day: number; // 1-31
  weekday: number; // 0 = Sunday .. 6 = Saturday
  hour: number;
  minute: number;
  /** Minutes since local midnight. */
  minuteOfDay: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      weekday: 'short',
      hour: 'numeric',
      minute: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** Whether the runtime knows the zone ("Europe/Berlin", "UTC"). */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

export function localTime(instantMs: number, timeZone: string): LocalTime {
  const fields: Record<string, string> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(instantMs))) fields[part.type] = part.value;
  const hour = Number(fields.hour);
  const minute = Number(fields.minute);
  return {
    year: Number(fields.year),
    month: Number(fields.month),
    day: Number(fields.day),
    weekday: WEEKDAYS[fields.weekday ?? 'Sun'] ?? 0,
    hour,
    minute,
    minuteOfDay: hour * 60 + minute,
  };
}

/** The instant's local wall-clock time in the zone, as milliseconds read as if it were UTC. */
export function wallClockMs(instantMs: number, timeZone: string): number {
  const local = localTime(instantMs, timeZone);
  const seconds = ((instantMs % 60_000) + 60_000) % 60_000;
  return Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute) + seconds;
}

/**
 * The instant a wall-clock time happens in the zone. A time that happens
 * twice (the hour the clocks go back) is its first occurrence; a time that
 * never happens (the hour they go forward) is read with the offset before the
 * change, which lands just after the gap, as a clock that was not turned would.
 */
export function instantOfWallClock(wallMs: number, timeZone: string): number {
  const offsetAt = (instant: number) => wallClockMs(instant, timeZone) - instant;
  const before = wallMs - offsetAt(wallMs - 86_400_000);
  const after = wallMs - offsetAt(wallMs + 86_400_000);
  const valid = [before, after].filter((candidate) => wallClockMs(candidate, timeZone) === wallMs);
  return valid.length > 0 ? Math.min(...valid) : before;
}
