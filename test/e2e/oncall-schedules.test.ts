import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../../src/config/policy.js';
import { createLogger } from '../../src/logging/logger.js';
import { buildWebhookServer, type WebhookServer } from '../../src/webhooks/server.js';
import { opsctl } from '../support/opsctl.js';
import { connectStack, type StackClients } from '../support/stack.js';

const TOKEN = 'oncall-feed-token-0123456789';

/**
 * Schedules as operators use them: opsctl asks who is on call and lists
 * shifts, overrides are added and removed at run time (audited), and the
 * calendar feed carries the same shifts. The policy is the issue's own
 * example, as an operator would paste it.
 */
describe('on-call schedules through opsctl and the calendar feed', () => {
  let clients: StackClients;
  let app: WebhookServer;
  let base = '';
  const dir = mkdtempSync(join(tmpdir(), 'oncall-'));
  const name = `primary-${Date.now().toString(36)}`;
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(
    policyFile,
    `oncall:
  people:
    alice: { name: Alice, slack: U0ALICE001, email: alice@example.com, timeZone: Europe/Berlin }
    bob:   { name: Bob, slack: U0BOB00001, email: bob@example.com }
  schedules:
    ${name}:
      timeZone: Europe/Berlin
      layers:                          # a later layer wins where it has someone
        - people: [alice, bob, carol]
          start: "2026-10-19T09:00"    # local time of the first handoff
          shift: 1w
        - people: [dave]
          start: "2026-10-19T09:00"
          shift: 1d
          restrict: { days: [mon, tue, wed, thu, fri], hours: "09:00-17:00" }
      overrides:
        - { person: erin, start: "2026-10-27T12:00", end: "2026-10-28T12:00" }
`,
  );
  const env = { OPS_CONFIG: policyFile };
  const run = (args: string[]) => opsctl(args, env);
  const json = (args: string[]) => {
    const result = run(['--json', ...args]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    return JSON.parse(result.stdout) as unknown;
  };

  beforeAll(async () => {
    clients = await connectStack();
    app = buildWebhookServer({
      temporal: clients.client,
      temporalConnection: clients.connection,
      logger: createLogger({ level: 'silent' }),
      oncall: { pool: clients.pool, policy: loadPolicy(policyFile), webhookToken: TOKEN },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await app.close();
    await clients.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers who is on call, until when and why, at any instant', () => {
    // Saturday of the first week: the 24/7 layer (alice); the weekday layer is empty; Monday 09:00 CET dave takes over.
    expect(json(['oncall', 'who', name, '--at', '2026-10-24T10:00:00Z'])).toEqual({
      schedule: name,
      at: '2026-10-24T10:00:00.000Z',
      person: 'alice',
      until: '2026-10-26T08:00:00.000Z',
      source: 'layer 1',
    });
    // Tuesday 11:00 CET: dave's weekday hours, until erin's override starts at 12:00 CET.
    expect(json(['oncall', 'who', name, '--at', '2026-10-27T10:00:00Z'])).toMatchObject({ person: 'dave', source: 'layer 2', until: '2026-10-27T11:00:00.000Z' });
    // A local time is in the schedule's zone: 12:30 in Berlin is inside the override.
    expect(json(['oncall', 'who', name, '--at', '2026-10-27T12:30'])).toEqual({
      schedule: name,
      at: '2026-10-27T11:30:00.000Z',
      person: 'erin',
      until: '2026-10-28T11:00:00.000Z',
      source: 'override',
    });
    const table = run(['oncall', 'who', name, '--at', '2026-10-24T10:00:00Z']);
    expect(table.stdout.split('\n')[0]).toMatch(/^SCHEDULE\s+AT\s+PERSON\s+UNTIL\s+SOURCE$/);
    expect(table.stdout).toContain('alice');
  });

  it('lists shifts, with the weekday layer over the rotation', () => {
    const shifts = json(['oncall', 'shifts', name, '--from', '2026-10-30T00:00:00Z', '--days', '3']) as Array<Record<string, string>>;
    expect(shifts.map((shift) => [shift.person, shift.start, shift.end, shift.source])).toEqual([
      // Friday of the second week (bob's, 26 Oct 09:00 to 2 Nov 09:00 CET).
      ['bob', '2026-10-30T00:00:00.000Z', '2026-10-30T08:00:00.000Z', 'layer 1'],
      ['dave', '2026-10-30T08:00:00.000Z', '2026-10-30T16:00:00.000Z', 'layer 2'],
      ['bob', '2026-10-30T16:00:00.000Z', '2026-11-02T00:00:00.000Z', 'layer 1'],
    ]);
    expect(run(['oncall', 'shifts', name]).stdout.split('\n')[0]).toMatch(/^START\s+END\s+PERSON\s+NAME\s+SOURCE$/);
  });

  it('adds, lists and removes a run-time override, audited, and who follows it', async () => {
    const added = json(['oncall', 'override', 'add', name, '--person', 'bob', '--start', '2027-01-05T08:00:00Z', '--end', '2027-01-05T20:00:00Z', '--by', 'lead']) as { id: string };
    expect(added).toMatchObject({ schedule: name, person: 'bob', start: '2027-01-05T08:00:00.000Z', end: '2027-01-05T20:00:00.000Z', by: 'lead' });
    expect(json(['oncall', 'who', name, '--at', '2027-01-05T12:00:00Z'])).toMatchObject({ person: 'bob', source: 'override', until: '2027-01-05T20:00:00.000Z' });
    expect(json(['oncall', 'override', 'list', name])).toContainEqual({ id: added.id, person: 'bob', start: '2027-01-05T08:00:00.000Z', end: '2027-01-05T20:00:00.000Z', by: 'lead' });

    const removed = run(['oncall', 'override', 'remove', added.id, '--by', 'lead2']);
    expect(removed.stdout).toBe(`override ${added.id} removed (bob on ${name})\n`);
    expect((json(['oncall', 'who', name, '--at', '2027-01-05T12:00:00Z']) as { source: string }).source).not.toBe('override');
    expect(run(['oncall', 'override', 'remove', added.id, '--by', 'lead2']).status).toBe(4);
    const { rows } = await clients.pool.query(`SELECT actor, action FROM audit_events WHERE target = $1 ORDER BY id`, [`oncall/${name}`]);
    expect(rows).toEqual([
      { actor: 'lead', action: 'oncall.override-add' },
      { actor: 'lead2', action: 'oncall.override-remove' },
    ]);
  });

  it('refuses bad input with one line naming it', () => {
    const unknown = run(['oncall', 'who', 'nope']);
    expect(unknown.status).toBe(4);
    expect(unknown.stderr).toBe(`opsctl: no schedule "nope" in oncall.schedules (known: ${name})\n`);
    const badTime = run(['oncall', 'who', name, '--at', 'tomorrow']);
    expect(badTime.status).toBe(2);
    expect(badTime.stderr).toMatch(/--at "tomorrow": expected ISO-8601/);
    const stranger = run(['oncall', 'override', 'add', name, '--person', 'mallory', '--start', '2027-01-01T00:00Z', '--end', '2027-01-02T00:00Z', '--by', 'x']);
    expect(stranger.status).toBe(4);
    expect(stranger.stderr).toMatch(/--person "mallory" is not in oncall\.people nor on schedule/);
    const backwards = run(['oncall', 'override', 'add', name, '--person', 'bob', '--start', '2027-01-02T00:00Z', '--end', '2027-01-01T00:00Z', '--by', 'x']);
    expect(backwards.status).toBe(2);
    expect(backwards.stderr).toMatch(/--end .* is not after --start/);
  });

  it('serves the schedule as an iCalendar feed behind the bearer token', async () => {
    expect((await fetch(`${base}/oncall/${name}.ics`)).status).toBe(401);
    expect((await fetch(`${base}/oncall/nope.ics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    const response = await fetch(`${base}/oncall/${name}.ics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/calendar; charset=utf-8');
    const text = await response.text();
    expect(text.startsWith('BEGIN:VCALENDAR\r\nVERSION:2.0\r\n')).toBe(true);
    expect(text.endsWith('END:VCALENDAR\r\n')).toBe(true);
    expect(text.split('\r\n').every((line) => Buffer.byteLength(line) <= 75)).toBe(true);
    const events = text.split('BEGIN:VEVENT').slice(1);
    expect(events.length).toBeGreaterThan(10);
    expect(text).toContain(`SUMMARY:On call: Alice (${name})`);
    expect(text).toContain(`SUMMARY:On call: dave (${name})`);
    // Each event is a shift of the schedule: its start is who's answer at that instant.
    const first = /DTSTART:(\d{8}T\d{6}Z)/.exec(events[1]!)![1]!;
    const iso = `${first.slice(0, 4)}-${first.slice(4, 6)}-${first.slice(6, 11)}:${first.slice(11, 13)}:${first.slice(13, 15)}Z`;
    const person = (json(['oncall', 'who', name, '--at', iso]) as { person: string }).person;
    expect(events[1]).toContain(`On call: ${person === 'alice' ? 'Alice' : person === 'bob' ? 'Bob' : person}`);
    // One person's shifts, with the token in the URL for calendar apps.
    const mine = await (await fetch(`${base}/oncall/${name}.ics?person=alice&token=${TOKEN}`)).text();
    const summaries = [...mine.matchAll(/SUMMARY:(.*)/g)].map((found) => found[1]);
    expect(summaries.length).toBeGreaterThan(0);
    expect(new Set(summaries)).toEqual(new Set([`On call: Alice (${name})`]));
  });
});
