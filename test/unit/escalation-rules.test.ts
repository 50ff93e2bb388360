import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/policy.js';
import { choosePolicy, inBusinessHours, levelTimeoutMs, pageAllowedAt } from '../../src/domain/escalation.js';
import { pagerdutyDedupKey } from '../../activities/paging.js';

const policyOf = (escalation: unknown) => parsePolicy({ escalation }, 'test').escalation;
const ms = (iso: string) => Date.parse(iso);
const iso = (value: number) => new Date(value).toISOString();

const ladder = (name: string) => ({ name, levels: [{ targets: [{ type: 'slack' }] }] });

describe('escalation policies', () => {
  it('route by severity, service and labels, first match wins, with a default', () => {
    const escalation = policyOf({
      policies: [ladder('payments'), ladder('critical'), ladder('default')],
      routes: [
        { matchers: ['service=~"pay.*"'], policy: 'payments' },
        { matchers: ['severity="critical"'], policy: 'critical' },
      ],
      defaultPolicy: 'default',
    });
    const pick = (labels: Record<string, string>) => choosePolicy(escalation.routes, escalation.policies, escalation.defaultPolicy, labels)?.name;
    expect(pick({ service: 'payments', severity: 'critical' })).toBe('payments');
    expect(pick({ service: 'search', severity: 'critical' })).toBe('critical');
    expect(pick({ service: 'search', severity: 'low' })).toBe('default');
    const noDefault = policyOf({ policies: [ladder('a')], routes: [{ matchers: ['team="a"'], policy: 'a' }] });
    expect(choosePolicy(noDefault.routes, noDefault.policies, noDefault.defaultPolicy, { team: 'b' })).toBeUndefined();
  });

  it('wait the level timeout, else the response time of the severity (critical 5m, high 15m, medium 1h, low 4h)', () => {
    const escalation = policyOf({ policies: [{ name: 'p', levels: [{ timeout: '2m', targets: [{ type: 'slack' }] }, { targets: [{ type: 'slack' }] }] }], responseTimes: { low: '8h' } });
    const [first, second] = escalation.policies[0]!.levels;
    expect(levelTimeoutMs(first!, 'low', escalation.responseTimes)).toBe(120_000);
    expect(levelTimeoutMs(second!, 'critical', escalation.responseTimes)).toBe(300_000);
    expect(levelTimeoutMs(second!, 'high', escalation.responseTimes)).toBe(900_000);
    expect(levelTimeoutMs(second!, 'medium', escalation.responseTimes)).toBe(3_600_000);
    expect(levelTimeoutMs(second!, 'low', escalation.responseTimes)).toBe(28_800_000);
  });

  it('refuse routes to unknown policies, bad targets and secrets written into the file', () => {
    expect(() => policyOf({ policies: [ladder('a')], routes: [{ matchers: [], policy: 'b' }] })).toThrow(/escalation\.routes\[0\]\.policy: no policy named "b"/);
    expect(() => policyOf({ policies: [{ name: 'a', levels: [{ targets: [{ type: 'sms' }] }] }] })).toThrow(/expected a target of type slack, email, pagerduty, webhook, schedule or person/);
    expect(() => policyOf({ policies: [{ name: 'a', levels: [{ targets: [{ type: 'pagerduty', routingKey: 'R0123' }] }] }] })).toThrow(/routingKey/);
    expect(() => policyOf({ policies: [{ name: 'a', levels: [{ targets: [{ type: 'email', to: ['not-an-address'] }] }] }] })).toThrow(/expected an email address/);
  });
});

describe('business hours', () => {
  const hours = policyOf({
    policies: [],
    businessHours: { timeZone: 'Europe/Berlin', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00', holidays: ['2026-12-25'], severities: ['medium', 'low', 'critical'] },
  }).businessHours!;

  it('page business-hours severities at once inside business hours', () => {
    const tuesdayNoon = ms('2026-11-24T11:00:00Z'); // 12:00 in Berlin
    expect(inBusinessHours(tuesdayNoon, hours)).toBe(true);
    expect(pageAllowedAt(tuesdayNoon, 'low', hours)).toBe(tuesdayNoon);
  });

  it('defer them across a weekend to Monday 09:00 local time', () => {
    const fridayEvening = ms('2026-11-27T18:30:00Z'); // 19:30 in Berlin
    expect(iso(pageAllowedAt(fridayEvening, 'medium', hours))).toBe('2026-11-30T08:00:00.000Z');
  });

  it('follow the time zone across a daylight-saving change', () => {
    // Saturday 28 March 2026; Berlin moves to UTC+2 on Sunday 29 March: Monday 09:00 is 07:00Z.
    expect(iso(pageAllowedAt(ms('2026-03-28T12:00:00Z'), 'low', hours))).toBe('2026-03-30T07:00:00.000Z');
    // The Friday before, 09:00 was still 08:00Z.
    expect(iso(pageAllowedAt(ms('2026-03-27T06:00:00Z'), 'low', hours))).toBe('2026-03-27T08:00:00.000Z');
  });

  it('find business hours however short they are', () => {
    const minuteAMonday = policyOf({ policies: [], businessHours: { timeZone: 'Pacific/Kiritimati', days: ['mon'], start: '00:00', end: '00:01', severities: ['low'] } }).businessHours!;
    // Monday 23 Nov 2026, 18:00Z is Tuesday 08:00 in Kiritimati (UTC+14): next is Monday 30 Nov 00:00 local.
    expect(iso(pageAllowedAt(ms('2026-11-23T18:00:00Z'), 'low', minuteAMonday))).toBe('2026-11-29T10:00:00.000Z');
  });

  it('skip holidays', () => {
    expect(iso(pageAllowedAt(ms('2026-12-24T17:00:00Z'), 'low', hours))).toBe('2026-12-28T08:00:00.000Z');
  });

  it('never hold critical or high, whatever the file says', () => {
    const saturday = ms('2026-11-28T03:00:00Z');
    expect(hours.severities).toEqual(['medium', 'low']);
    expect(pageAllowedAt(saturday, 'critical', hours)).toBe(saturday);
    expect(pageAllowedAt(saturday, 'high', hours)).toBe(saturday);
  });
});

describe('PagerDuty dedup keys', () => {
  it('are the incident ID, hashed when longer than 255 characters', () => {
    expect(pagerdutyDedupKey('incident-ev-x/123')).toBe('incident-ev-x/123');
    const long = `incident-${'x'.repeat(300)}`;
    expect(pagerdutyDedupKey(long)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(pagerdutyDedupKey(long).length).toBeLessThanOrEqual(255);
  });
});
