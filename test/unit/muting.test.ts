import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/policy.js';
import { ConfigError } from '../../src/config/config-error.js';
import { cronMatches, parseCron, type CronExpression } from '../../src/domain/cron.js';
import { matches, parseMatcher, type Matcher } from '../../src/domain/matchers.js';
import { inhibitionFor, muteReason, nextOpening, windowIsOpen } from '../../src/domain/muting.js';
import { maintenanceWindowSchema } from '../../src/config/policy-incidents.js';
import { localTime } from '../../src/domain/time-zones.js';

const matcher = (text: string) => parseMatcher(text) as Matcher;
const windowsOf = (windows: unknown[]) => parsePolicy({ maintenanceWindows: windows }, 'test').maintenanceWindows;
const ms = (iso: string) => Date.parse(iso);

describe('matchers', () => {
  it('parse Alertmanager syntax and anchor regexes', () => {
    expect(parseMatcher('service="payments"')).toEqual({ name: 'service', op: '=', value: 'payments' });
    expect(matches(matcher('service=~"pay.*"'), { service: 'payments' })).toBe(true);
    expect(matches(matcher('service=~"pay.*"'), { service: 'prepay' })).toBe(false);
    expect(matches(matcher('env!=prod'), {})).toBe(true);
    expect(matches(matcher('team!~"a|b"'), { team: 'a' })).toBe(false);
    expect(parseMatcher('not a matcher')).toMatch(/is not a matcher/);
    expect(parseMatcher('x=~"("')).toBe('"x=~"("" has an invalid regular expression');
  });
});

describe('cron', () => {
  const at = (iso: string, zone = 'UTC') => localTime(ms(iso), zone);
  it('matches lists, ranges, steps and names, with day-of-month OR day-of-week', () => {
    const cron = parseCron('*/15 2-4 1 * sun') as CronExpression;
    expect(cronMatches(cron, at('2026-11-01T02:30:00Z'))).toBe(true); // the 1st, a Sunday
    expect(cronMatches(cron, at('2026-11-08T03:45:00Z'))).toBe(true); // a Sunday
    expect(cronMatches(cron, at('2026-11-10T03:45:00Z'))).toBe(false); // neither
    expect(cronMatches(cron, at('2026-11-08T03:46:00Z'))).toBe(false);
    expect(parseCron('61 * * * *')).toMatch(/outside 0-59/);
    expect(parseCron('* * *')).toMatch(/needs 5 fields/);
  });
});

describe('maintenance windows', () => {
  it('one-off windows are open between start and end', () => {
    const [window] = windowsOf([{ name: 'w', start: '2026-11-24T22:00:00Z', end: '2026-11-25T02:00:00Z' }]);
    expect(windowIsOpen(window!, ms('2026-11-24T23:00:00Z'))).toBe(true);
    expect(windowIsOpen(window!, ms('2026-11-25T02:00:00Z'))).toBe(false);
  });

  it('weekly spans follow their time zone, in summer and in winter', () => {
    const [window] = windowsOf([{ name: 'w', timeZone: 'Europe/Berlin', weekly: [{ days: ['sun'], start: '02:00', end: '04:00' }] }]);
    // Winter (UTC+1): 02:30 Berlin is 01:30Z; summer (UTC+2): 02:30 Berlin is 00:30Z.
    expect(windowIsOpen(window!, ms('2026-11-22T01:30:00Z'))).toBe(true);
    expect(windowIsOpen(window!, ms('2026-11-22T03:30:00Z'))).toBe(false);
    expect(windowIsOpen(window!, ms('2026-07-05T00:30:00Z'))).toBe(true);
    expect(windowIsOpen(window!, ms('2026-07-05T02:30:00Z'))).toBe(false);
  });

  it('weekly spans past midnight belong to the day they start', () => {
    const [window] = windowsOf([{ name: 'w', timeZone: 'America/New_York', weekly: [{ days: ['fri'], start: '22:00', end: '02:00' }] }]);
    expect(windowIsOpen(window!, ms('2026-11-21T04:00:00Z'))).toBe(true); // Fri 23:00 New York
    expect(windowIsOpen(window!, ms('2026-11-21T06:30:00Z'))).toBe(true); // Sat 01:30
    expect(windowIsOpen(window!, ms('2026-11-21T07:30:00Z'))).toBe(false); // Sat 02:30
    expect(windowIsOpen(window!, ms('2026-11-22T04:00:00Z'))).toBe(false); // Sat 23:00
  });

  it('cron windows are open for their duration after each firing', () => {
    const [window] = windowsOf([{ name: 'nightly', timeZone: 'Asia/Tokyo', cron: '0 3 * * *', duration: '90m' }]);
    expect(windowIsOpen(window!, ms('2026-11-22T18:00:00Z'))).toBe(true); // 03:00 Tokyo
    expect(windowIsOpen(window!, ms('2026-11-22T19:29:00Z'))).toBe(true); // 04:29
    expect(windowIsOpen(window!, ms('2026-11-22T19:31:00Z'))).toBe(false); // 04:31
  });

  it('refuses windows that are not one kind, with a bad zone or a bad cron, naming the field', () => {
    expect(() => windowsOf([{ name: 'w', weekly: [{ days: ['sun'], start: '02:00', end: '04:00' }], cron: '* * * * *' }])).toThrow(/give exactly one of/);
    expect(() => windowsOf([{ name: 'w', timeZone: 'Mars/Olympus', start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z' }])).toThrow(
      /maintenanceWindows\[0\]\.timeZone: unknown time zone/,
    );
    expect(() => windowsOf([{ name: 'w', cron: '0 99 * * *', duration: '1h' }])).toThrow(ConfigError);
    expect(() => windowsOf([{ name: 'w', weekly: [{ days: ['someday'], start: '02:00', end: '04:00' }] }])).toThrow(/days\[0\]/);
  });
});

describe('inhibition', () => {
  const rules = [{ name: 'down', sourceMatchers: [matcher('alertname="Down"')], targetMatchers: [matcher('severity=~"warning|info"')], equal: ['service'] }];
  it('mutes matching targets of the same service while a source fires', () => {
    const target = { alertname: 'Latency', severity: 'warning', service: 'api' };
    expect(inhibitionFor(rules, target, [{ alertname: 'Down', service: 'api' }])?.rule.name).toBe('down');
    expect(inhibitionFor(rules, target, [{ alertname: 'Down', service: 'web' }])).toBeUndefined();
    expect(inhibitionFor(rules, { ...target, severity: 'critical' }, [{ alertname: 'Down', service: 'api' }])).toBeUndefined();
    expect(muteReason(target, 0, [], rules, [{ alertname: 'Down', service: 'api' }])).toBe('inhibited by Down (rule "down")');
  });
});

describe('next opening of a window', () => {
  it('is now when one is open, else the exact second the first one opens, else nothing within the horizon', () => {
    const windows = [
      maintenanceWindowSchema.parse({ name: 'weekly', timeZone: 'UTC', weekly: [{ days: ['sun'], start: '02:00', end: '04:00' }] }),
      maintenanceWindowSchema.parse({ name: 'once', start: '2026-11-25T10:00:30Z', end: '2026-11-25T11:00:00Z' }),
    ];
    const at = (text: string) => Date.parse(text);
    expect(nextOpening(windows, at('2026-11-29T03:00:00Z'))).toBe(at('2026-11-29T03:00:00Z'));
    expect(nextOpening(windows, at('2026-11-23T12:00:00Z'))).toBe(at('2026-11-25T10:00:30Z'));
    expect(nextOpening(windows, at('2026-11-26T00:00:00Z'))).toBe(at('2026-11-29T02:00:00Z'));
    expect(nextOpening(windows.slice(1), at('2026-11-26T00:00:00Z'))).toBeUndefined();
  });
});
