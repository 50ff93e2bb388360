import { instantOfWallClock, localTime, wallClockMs } from './time-zones.js';

/**
 * On-call schedules as data, and who is on call at an instant: a pure,
 * deterministic function of the schedule, its overrides and the instant,
 * usable in workflow code.
 *
 * A layer is a rotation of people. Handoffs are on the layer's wall clock: a
 * weekly Monday 09:00 Europe/Berlin handoff stays at 09:00 across daylight
 * saving (that week is an hour shorter or longer). A restricted layer has
 * someone only inside its days and hours; where several layers have someone,
 * the later layer wins; an override wins over every layer (the one added last
 * where overrides overlap).
 */

export interface OnCallPerson {
  id: string;
  name: string;
  timeZone?: string;
  /** Slack user ID (U…/W…): the page mentions them. */
  slack?: string;
  email?: string;
  /** Paged through a routing key; `userId` maps PagerDuty's acknowledgements back to this person. */
  pagerduty?: { routingKeyEnv?: string; userId?: string };
  webhook?: { url: string; secretEnv?: string };
  /** For a webhook-based SMS or voice provider: sent in the webhook's body. */
  phone?: string;
}

export interface LayerRestriction {
  /** 0 = Sunday; the day a window starts on. */
  days: number[];
  startMinute: number;
  /** End of the window; at or before the start, the window runs past midnight. */
  endMinute: number;
}

export interface OnCallLayer {
  people: string[];
  /** Local time of the first handoff in the layer's zone, YYYY-MM-DDTHH:MM. */
  start: string;
  shiftMs: number;
  timeZone: string;
  restrict?: LayerRestriction;
}

export interface OnCallOverride {
  /** Run-time overrides carry their database ID; policy overrides a name of their own. */
  id: string;
  person: string;
  startMs: number;
  endMs: number;
}

export interface OnCallSchedule {
  name: string;
  timeZone: string;
  layers: OnCallLayer[];
  /** Overrides written in the policy; run-time ones are passed beside them. */
  overrides: OnCallOverride[];
}

export interface OnCallAnswer {
  person: string | null;
  /** `layer <n>` (1-based, as written) or `override`; null for an empty slot. */
  source: string | null;
  overrideId?: string;
}

export interface OnCallShift extends OnCallAnswer {
  startMs: number;
  endMs: number;
}

const MINUTE = 60_000;
const DAY = 1440 * MINUTE;

/** "2026-10-19T09:00" as milliseconds of wall-clock time (the local time read as if it were UTC). */
export function parseLocalDateTime(text: string): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map((part) => Number(part ?? 0)) as number[];
  const wall = Date.UTC(year!, month! - 1, day!, hour!, minute!, second ?? 0);
  const back = new Date(wall);
  // Refuse dates that roll over (2026-02-30) and hours past 23.
  if (back.getUTCMonth() !== month! - 1 || back.getUTCDate() !== day! || back.getUTCHours() !== hour!) return undefined;
  return wall;
}

/**
 * An instant from text: ISO-8601 with a zone (`Z`, `+02:00`) as it says, or a
 * local date-time without one in `timeZone`. Undefined when it is neither.
 */
export function parseInstant(text: string, timeZone: string): number | undefined {
  const local = parseLocalDateTime(text);
  if (local !== undefined) return instantOfWallClock(local, timeZone);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

function handoff(layer: OnCallLayer, index: number): number {
  return instantOfWallClock(parseLocalDateTime(layer.start)! + index * layer.shiftMs, layer.timeZone);
}

/** Which shift of the rotation holds `atMs` (0 = the first), or undefined before the layer starts. */
function shiftIndexAt(layer: OnCallLayer, atMs: number): number | undefined {
  const startWall = parseLocalDateTime(layer.start)!;
  let index = Math.floor((wallClockMs(atMs, layer.timeZone) - startWall) / layer.shiftMs);
  // The wall clock jumps at daylight-saving changes: correct the estimate against real handoffs.
  while (index >= 0 && handoff(layer, index) > atMs) index -= 1;
  while (handoff(layer, index + 1) <= atMs) index += 1;
  return index < 0 ? undefined : index;
}

function insideRestriction(restrict: LayerRestriction, atMs: number, timeZone: string): boolean {
  const local = localTime(atMs, timeZone);
  const minute = local.minuteOfDay;
  if (restrict.startMinute < restrict.endMinute) {
    return restrict.days.includes(local.weekday) && minute >= restrict.startMinute && minute < restrict.endMinute;
  }
  // A window past midnight (or a whole day, start == end): started today, or yesterday and not yet over.
  const yesterday = (local.weekday + 6) % 7;
  return (restrict.days.includes(local.weekday) && minute >= restrict.startMinute) || (restrict.days.includes(yesterday) && minute < restrict.endMinute);
}

function layerPersonAt(layer: OnCallLayer, atMs: number): string | undefined {
  if (layer.people.length === 0) return undefined;
  if (layer.restrict && !insideRestriction(layer.restrict, atMs, layer.timeZone)) return undefined;
  const index = shiftIndexAt(layer, atMs);
  return index === undefined ? undefined : layer.people[index % layer.people.length];
}

/** The first instant after `atMs` at which this layer may change hands or hours. */
function nextLayerBoundary(layer: OnCallLayer, atMs: number): number {
  const index = shiftIndexAt(layer, atMs);
  let next = handoff(layer, index === undefined ? 0 : index + 1);
  if (layer.restrict) {
    const { startMinute, endMinute, days } = layer.restrict;
    const wall = wallClockMs(atMs, layer.timeZone);
    const midnight = wall - (((wall % DAY) + DAY) % DAY);
    const span = endMinute > startMinute ? endMinute - startMinute : endMinute + 1440 - startMinute;
    for (let day = -1; day <= 8; day += 1) {
      const dayWall = midnight + day * DAY;
      if (!days.includes(new Date(dayWall).getUTCDay())) continue;
      for (const edge of [dayWall + startMinute * MINUTE, dayWall + (startMinute + span) * MINUTE]) {
        const instant = instantOfWallClock(edge, layer.timeZone);
        if (instant > atMs && instant < next) next = instant;
      }
    }
  }
  return next;
}

/** Who is on call at `atMs`, and why. `overrides` are the run-time ones, added after the policy's. */
export function onCallAt(schedule: OnCallSchedule, atMs: number, overrides: readonly OnCallOverride[] = []): OnCallAnswer {
  const all = [...schedule.overrides, ...overrides];
  for (let index = all.length - 1; index >= 0; index -= 1) {
    const override = all[index]!;
    if (override.startMs <= atMs && atMs < override.endMs) return { person: override.person, source: 'override', overrideId: override.id };
  }
  for (let index = schedule.layers.length - 1; index >= 0; index -= 1) {
    const person = layerPersonAt(schedule.layers[index]!, atMs);
    if (person !== undefined) return { person, source: `layer ${index + 1}` };
  }
  return { person: null, source: null };
}

function sameAnswer(a: OnCallAnswer, b: OnCallAnswer): boolean {
  return a.person === b.person && a.source === b.source && a.overrideId === b.overrideId;
}

/** The first instant after `atMs` at which the answer may change (a handoff, an hour edge, an override edge). */
function nextBoundary(schedule: OnCallSchedule, atMs: number, overrides: readonly OnCallOverride[]): number {
  let next = Infinity;
  for (const layer of schedule.layers) if (layer.people.length > 0) next = Math.min(next, nextLayerBoundary(layer, atMs));
  for (const override of [...schedule.overrides, ...overrides]) {
    for (const edge of [override.startMs, override.endMs]) if (edge > atMs && edge < next) next = edge;
  }
  return next;
}

/**
 * The shifts between `fromMs` and `toMs`, consecutive equal answers merged;
 * the first starts at `fromMs`, the last ends at `toMs` (or where it really
 * ends, if it ends before).
 */
export function onCallShifts(schedule: OnCallSchedule, fromMs: number, toMs: number, overrides: readonly OnCallOverride[] = []): OnCallShift[] {
  const shifts: OnCallShift[] = [];
  let at = fromMs;
  let current = onCallAt(schedule, at, overrides);
  let startMs = at;
  // Bounded: a boundary is at least a minute after the last one.
  for (let step = 0; step < 100_000 && at < toMs; step += 1) {
    const next = Math.min(nextBoundary(schedule, at, overrides), toMs);
    at = Math.max(next, at + 1);
    const answer = at < toMs ? onCallAt(schedule, at, overrides) : undefined;
    if (!answer || !sameAnswer(answer, current)) {
      shifts.push({ ...current, startMs, endMs: Math.min(at, toMs) });
      if (answer) {
        current = answer;
        startMs = at;
      }
    }
  }
  return shifts;
}

/** How far ahead `until` looks for the next change of hands. */
export const UNTIL_HORIZON_MS = 90 * DAY;

/** Who is on call at `atMs` and until when (null: no change within 90 days). */
export function onCallUntil(
  schedule: OnCallSchedule,
  atMs: number,
  overrides: readonly OnCallOverride[] = [],
): OnCallAnswer & { untilMs: number | null } {
  const answer = onCallAt(schedule, atMs, overrides);
  let at = atMs;
  for (let step = 0; step < 100_000; step += 1) {
    at = Math.max(nextBoundary(schedule, at, overrides), at + 1);
    if (at - atMs > UNTIL_HORIZON_MS) return { ...answer, untilMs: null };
    if (!sameAnswer(onCallAt(schedule, at, overrides), answer)) return { ...answer, untilMs: at };
  }
  return { ...answer, untilMs: null };
}

/** People of a schedule's layers and overrides, for validating a run-time override's person. */
export function schedulePeople(schedule: OnCallSchedule): Set<string> {
  return new Set([...schedule.layers.flatMap((layer) => layer.people), ...schedule.overrides.map((override) => override.person)]);
}
