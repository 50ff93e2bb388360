import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/policy.js';
import { onCallAt, onCallShifts, onCallUntil, type OnCallSchedule } from '../../src/domain/oncall.js';
import { instantOfWallClock } from '../../src/domain/time-zones.js';

/**
 * Who is on call, against tables computed by hand (UTC instants, with the
 * local time they are in the comment). Schedules come through the policy
 * parser, as operators write them.
 */
function schedules(oncall: unknown): Record<string, OnCallSchedule> {
  return parsePolicy({ oncall }, 'test').oncall.schedules;
}

const at = (iso: string) => Date.parse(iso);
const who = (schedule: OnCallSchedule, iso: string) => {
  const answer = onCallUntil(schedule, at(iso));
  return [answer.person, answer.source, answer.untilMs === null ? null : new Date(answer.untilMs).toISOString()];
};

describe('on-call schedules', () => {
  it('hands a weekly Monday 09:00 Europe/Berlin rotation over at 09:00 local across the October DST change', () => {
    const { primary } = schedules({
      schedules: { primary: { timeZone: 'Europe/Berlin', layers: [{ people: ['alice', 'bob', 'carol'], start: '2026-10-19T09:00', shift: '1w' }] } },
    });
    const table: Array<[string, string | null, string | null, string | null]> = [
      ['2026-10-19T06:59:00Z', null, null, '2026-10-19T07:00:00.000Z'], // 08:59 CEST, before the first handoff
      ['2026-10-19T07:00:00Z', 'alice', 'layer 1', '2026-10-26T08:00:00.000Z'], // 09:00 CEST; the week ends 09:00 CET
      ['2026-10-25T01:30:00Z', 'alice', 'layer 1', '2026-10-26T08:00:00.000Z'], // 02:30 CET, just after the clocks went back
      ['2026-10-26T07:59:00Z', 'alice', 'layer 1', '2026-10-26T08:00:00.000Z'], // 08:59 CET: that week was 169 hours
      ['2026-10-26T08:00:00Z', 'bob', 'layer 1', '2026-11-02T08:00:00.000Z'], // 09:00 CET
      ['2026-11-02T08:00:00Z', 'carol', 'layer 1', '2026-11-09T08:00:00.000Z'],
      ['2026-11-09T08:00:00Z', 'alice', 'layer 1', '2026-11-16T08:00:00.000Z'],
    ];
    for (const [instant, person, source, until] of table) expect(who(primary!, instant), instant).toEqual([person, source, until]);
  });

  it('keeps a rotation that started years ago on its wall clock', () => {
    const { old } = schedules({
      schedules: { old: { timeZone: 'Europe/Berlin', layers: [{ people: ['alice', 'bob', 'carol'], start: '2020-01-06T09:00', shift: '1w' }] } },
    });
    // 354 whole weeks by 2026-10-26 08:59 CET (354 % 3 = 0: alice), the 355th starts at 09:00 CET (bob).
    expect(who(old!, '2026-10-26T07:59:00Z')).toEqual(['alice', 'layer 1', '2026-10-26T08:00:00.000Z']);
    expect(who(old!, '2026-10-26T08:00:00Z')).toEqual(['bob', 'layer 1', '2026-11-02T08:00:00.000Z']);
    // In summer the handoff is 07:00Z (09:00 CEST).
    expect(who(old!, '2026-07-06T06:59:00Z')[0]).not.toEqual(who(old!, '2026-07-06T07:00:00Z')[0]);
  });

  it('runs a 12h follow-the-sun rotation across two zones', () => {
    const { sun, berlin } = schedules({
      schedules: {
        // Alice works from Berlin, Bob from Sydney: the handoffs are fixed in UTC whatever their clocks do.
        sun: { timeZone: 'Europe/Berlin', layers: [{ people: ['alice', 'bob'], start: '2026-10-19T08:00', shift: '12h', timeZone: 'UTC' }] },
        // The same rotation kept on Berlin's clock: 09:00 and 21:00 local, so the night of the change lasts 13 hours.
        berlin: { timeZone: 'Europe/Berlin', layers: [{ people: ['alice', 'bob'], start: '2026-10-19T09:00', shift: '12h' }] },
      },
    });
    const sunTable: Array<[string, string]> = [
      ['2026-10-19T08:00:00Z', 'alice'], // 10:00 CEST in Berlin, 19:00 AEDT in Sydney
      ['2026-10-19T19:59:00Z', 'alice'],
      ['2026-10-19T20:00:00Z', 'bob'], // 07:00 AEDT in Sydney
      ['2026-10-25T08:00:00Z', 'alice'], // after Berlin's change: still 08:00Z
      ['2026-10-25T20:00:00Z', 'bob'],
    ];
    for (const [instant, person] of sunTable) expect(onCallAt(sun!, at(instant)).person, instant).toBe(person);
    // 2026-10-24 21:00 CEST (19:00Z) bob takes over; the clocks go back in that night; alice at 09:00 CET (08:00Z).
    expect(who(berlin!, '2026-10-24T19:00:00Z')).toEqual(['bob', 'layer 1', '2026-10-25T08:00:00.000Z']);
    expect(who(berlin!, '2026-10-25T08:00:00Z')).toEqual(['alice', 'layer 1', '2026-10-25T20:00:00.000Z']);
  });

  it('honours an override that starts and ends in the middle of a shift', () => {
    const { primary } = schedules({
      schedules: {
        primary: {
          timeZone: 'Europe/Berlin',
          layers: [{ people: ['alice', 'bob', 'carol'], start: '2026-10-19T09:00', shift: '1w' }],
          overrides: [{ person: 'erin', start: '2026-10-27T12:00', end: '2026-10-28T12:00' }],
        },
      },
    });
    // Bob's week runs 2026-10-26 08:00Z to 2026-11-02 08:00Z; erin holds 12:00-12:00 CET (11:00Z) inside it.
    expect(who(primary!, '2026-10-27T10:59:00Z')).toEqual(['bob', 'layer 1', '2026-10-27T11:00:00.000Z']);
    expect(who(primary!, '2026-10-27T11:00:00Z')).toEqual(['erin', 'override', '2026-10-28T11:00:00.000Z']);
    expect(who(primary!, '2026-10-28T11:00:00Z')).toEqual(['bob', 'layer 1', '2026-11-02T08:00:00.000Z']);
    // A run-time override added later wins over the policy's where they overlap.
    const runtime = [{ id: '7', person: 'frank', startMs: at('2026-10-28T00:00:00Z'), endMs: at('2026-10-28T06:00:00Z') }];
    expect(onCallAt(primary!, at('2026-10-28T01:00:00Z'), runtime)).toEqual({ person: 'frank', source: 'override', overrideId: '7' });
    expect(onCallAt(primary!, at('2026-10-28T06:00:00Z'), runtime)).toMatchObject({ person: 'erin', overrideId: 'policy-1' });
  });

  it('puts a restricted weekday 09:00-17:00 layer over a 24/7 layer', () => {
    const { primary } = schedules({
      schedules: {
        primary: {
          timeZone: 'Europe/Berlin',
          layers: [
            { people: ['alice', 'bob', 'carol'], start: '2026-10-19T09:00', shift: '1w' },
            { people: ['dave'], start: '2026-10-19T09:00', shift: '1d', restrict: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], hours: '09:00-17:00' } },
          ],
        },
      },
    });
    const table: Array<[string, string, string, string]> = [
      ['2026-10-27T07:59:00Z', 'bob', 'layer 1', '2026-10-27T08:00:00.000Z'], // Tue 08:59 CET
      ['2026-10-27T08:00:00Z', 'dave', 'layer 2', '2026-10-27T16:00:00.000Z'], // Tue 09:00 CET
      ['2026-10-27T16:00:00Z', 'bob', 'layer 1', '2026-10-28T08:00:00.000Z'], // Tue 17:00 CET
      ['2026-10-22T07:00:00Z', 'dave', 'layer 2', '2026-10-22T15:00:00.000Z'], // Thu 09:00 CEST
      ['2026-10-31T10:00:00Z', 'bob', 'layer 1', '2026-11-02T08:00:00.000Z'], // Saturday: the weekday layer is empty
    ];
    for (const [instant, person, source, until] of table) expect(who(primary!, instant), instant).toEqual([person, source, until]);
    const shifts = onCallShifts(primary!, at('2026-10-30T00:00:00Z'), at('2026-11-03T00:00:00Z')).map((shift) => [
      shift.person,
      new Date(shift.startMs).toISOString().slice(0, 16),
      new Date(shift.endMs).toISOString().slice(0, 16),
    ]);
    expect(shifts).toEqual([
      ['bob', '2026-10-30T00:00', '2026-10-30T08:00'],
      ['dave', '2026-10-30T08:00', '2026-10-30T16:00'],
      ['bob', '2026-10-30T16:00', '2026-11-02T08:00'],
      ['dave', '2026-11-02T08:00', '2026-11-02T16:00'], // Monday: carol's week starts under dave's hours
      ['carol', '2026-11-02T16:00', '2026-11-03T00:00'],
    ]);
  });

  it('reports an empty slot as nobody on call, never as a crash', () => {
    const { daytime } = schedules({
      schedules: { daytime: { timeZone: 'Europe/Berlin', layers: [{ people: ['dave'], start: '2026-10-19T09:00', shift: '1d', restrict: { days: ['mon'], hours: '09:00-17:00' } }] } },
    });
    expect(who(daytime!, '2026-10-31T10:00:00Z')).toEqual([null, null, '2026-11-02T08:00:00.000Z']);
    expect(onCallShifts(daytime!, at('2026-10-31T00:00:00Z'), at('2026-11-01T00:00:00Z'))).toEqual([
      { person: null, source: null, startMs: at('2026-10-31T00:00:00Z'), endMs: at('2026-11-01T00:00:00Z') },
    ]);
  });

  it('runs a night layer past midnight', () => {
    const { nights } = schedules({
      schedules: { nights: { timeZone: 'UTC', layers: [{ people: ['owl'], start: '2026-10-19T00:00', shift: '1w', restrict: { days: ['fri'], hours: '22:00-06:00' } }] } },
    });
    expect(onCallAt(nights!, at('2026-10-23T21:59:00Z')).person).toBeNull();
    expect(onCallAt(nights!, at('2026-10-23T22:00:00Z')).person).toBe('owl');
    expect(onCallAt(nights!, at('2026-10-24T05:59:00Z')).person).toBe('owl');
    expect(onCallAt(nights!, at('2026-10-24T06:00:00Z')).person).toBeNull();
  });

  it('reads wall-clock times that happen twice or never as a clock would', () => {
    // 2026-10-25 02:30 happens twice in Berlin: the first, in CEST.
    expect(new Date(instantOfWallClock(Date.UTC(2026, 9, 25, 2, 30), 'Europe/Berlin')).toISOString()).toBe('2026-10-25T00:30:00.000Z');
    // 2026-03-29 02:30 never happens: read with the winter offset, it is 03:30 CEST.
    expect(new Date(instantOfWallClock(Date.UTC(2026, 2, 29, 2, 30), 'Europe/Berlin')).toISOString()).toBe('2026-03-29T01:30:00.000Z');
  });

  it('refuses schedules and targets it cannot follow, naming the field', () => {
    expect(() => schedules({ schedules: { p: { timeZone: 'Mars/Olympus', layers: [{ people: ['a'], start: '2026-10-19T09:00', shift: '1w' }] } } })).toThrow(
      /oncall\.schedules\.p\.timeZone: unknown time zone/,
    );
    expect(() => schedules({ schedules: { p: { timeZone: 'UTC', layers: [{ people: ['a'], start: '2026-10-19 09:00', shift: '1w' }] } } })).toThrow(
      /oncall\.schedules\.p\.layers\[0\]\.start: expected a local date and time/,
    );
    expect(() => schedules({ schedules: { p: { timeZone: 'UTC', layers: [{ people: ['a'], start: '2026-10-19T09:00', shift: 'weekly' }] } } })).toThrow(
      /layers\[0\]\.shift: "weekly" is not a duration/,
    );
    expect(() => schedules({ people: { a: { name: 'A', slack: '@alice' } } })).toThrow(/oncall\.people\.a\.slack: expected a Slack user ID/);
    expect(() =>
      parsePolicy({ escalation: { policies: [{ name: 'p', levels: [{ targets: [{ type: 'schedule', schedule: 'nope' }] }] }] } }, 'test'),
    ).toThrow(/escalation\.policies\[0\]\.levels\[0\]\.targets\[0\]\.schedule: no schedule named "nope"/);
  });
});
