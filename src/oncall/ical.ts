import type { OnCallPerson } from '../domain/oncall.js';
import type { ShiftRow } from './lookup.js';

/**
 * A schedule as an iCalendar feed (RFC 5545): one event per shift, so people
 * see their on-call time in their own calendar. UIDs are stable per shift, so
 * a calendar that polls the feed updates events instead of duplicating them.
 */

function icsTime(iso: string): string {
  return `${iso.slice(0, 19).replace(/[-:]/g, '')}Z`;
}

function escapeText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,').replace(/\r?\n/g, '\\n');
}

/** Lines longer than 75 octets are folded: CRLF and one space, never inside a UTF-8 character. */
function fold(line: string): string {
  const parts: string[] = [];
  let current = '';
  for (const char of line) {
    const limit = parts.length === 0 ? 75 : 74;
    if (Buffer.byteLength(current + char) > limit) {
      parts.push(current);
      current = '';
    }
    current += char;
  }
  parts.push(current);
  return parts.join('\r\n ');
}

export function scheduleCalendar(input: {
  schedule: string;
  shifts: ShiftRow[];
  people: Record<string, OnCallPerson>;
  generatedAt: string;
}): string {
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//ops-automation//on-call//EN',
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH',
    `X-WR-CALNAME:${escapeText(`On call: ${input.schedule}`)}`,
    'REFRESH-INTERVAL;VALUE=DURATION:PT1H',
  ];
  for (const shift of input.shifts) {
    if (!shift.person) continue;
    const name = input.people[shift.person]?.name ?? shift.person;
    lines.push(
      'BEGIN:VEVENT',
      `UID:${escapeText(`${input.schedule}-${shift.start}-${shift.person}@ops-automation`)}`,
      `DTSTAMP:${icsTime(input.generatedAt)}`,
      `DTSTART:${icsTime(shift.start)}`,
      `DTEND:${icsTime(shift.end)}`,
      `SUMMARY:${escapeText(`On call: ${name} (${input.schedule})`)}`,
      `DESCRIPTION:${escapeText(`${name} is on call for ${input.schedule} (${shift.source ?? 'schedule'}).`)}`,
      'TRANSP:TRANSPARENT',
      'END:VEVENT',
    );
  }
  lines.push('END:VCALENDAR');
  return `${lines.map(fold).join('\r\n')}\r\n`;
}
