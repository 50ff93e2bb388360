import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIncidentActivities } from '../../activities/incidents.js';
import { parsePolicy } from '../../src/config/policy.js';
import { opsctl } from '../support/opsctl.js';
import { connectStack, type StackClients } from '../support/stack.js';

/** Maintenance windows made with opsctl mute alerts just like the policy file's. */
describe('opsctl maintenance', () => {
  let clients: StackClients;
  const name = `db-work-${Date.now().toString(36)}`;
  beforeAll(async () => {
    clients = await connectStack();
  });
  afterAll(async () => clients.close());

  it('adds, lists, mutes, and removes a window, auditing each change', async () => {
    const added = opsctl([
      '--json',
      'maintenance',
      'add',
      name,
      '--match',
      `service="orders-db-${name}"`,
      '--weekly',
      'mon,tue,wed,thu,fri,sat,sun 00:00-24:00',
      '--time-zone',
      'Europe/Berlin',
      '--by',
      'alice',
    ]);
    expect(added.stderr).toBe('');
    expect(added.status).toBe(0);
    expect(JSON.parse(added.stdout)).toEqual({ name, schedule: 'mon,tue,wed,thu,fri,sat,sun 00:00-24:00', open: true });

    const listed = opsctl(['--json', 'maintenance', 'list']);
    expect(listed.status).toBe(0);
    expect(JSON.parse(listed.stdout)).toContainEqual(
      expect.objectContaining({ name, source: 'opsctl (alice)', open: true, timeZone: 'Europe/Berlin' }),
    );

    const activities = createIncidentActivities({ pool: clients.pool, policy: parsePolicy({}, 'test'), slackEnabled: false, temporalUiUrl: 'x' });
    const mutes = await activities.evaluateMutes({
      incidentId: 'i',
      alerts: [
        { fingerprint: 'in', labels: { service: `orders-db-${name}` } },
        { fingerprint: 'out', labels: { service: 'web' } },
      ],
    });
    expect(mutes).toEqual({ in: `maintenance window "${name}"` });

    expect(opsctl(['maintenance', 'remove', name, '--by', 'bob']).stdout).toBe(`removed maintenance window "${name}"\n`);
    expect(
      await activities.evaluateMutes({ incidentId: 'i', alerts: [{ fingerprint: 'in', labels: { service: `orders-db-${name}` } }] }),
    ).toEqual({});
    const { rows } = await clients.pool.query(`SELECT actor, action FROM audit_events WHERE target = $1 ORDER BY id`, [`maintenance-window/${name}`]);
    expect(rows).toEqual([
      { actor: 'alice', action: 'maintenance-window.add' },
      { actor: 'bob', action: 'maintenance-window.remove' },
    ]);
  });

  it('explains a bad window in one line and exits 2', () => {
    const zone = opsctl(['maintenance', 'add', 'x', '--match', 'a="b"', '--cron', '0 2 * * *', '--duration', '1h', '--time-zone', 'Mars/Base', '--by', 'me']);
    expect(zone.status).toBe(2);
    expect(zone.stderr).toBe('opsctl: timeZone: unknown time zone (expected an IANA name such as Europe/Berlin or UTC)\n');
    const matcher = opsctl(['maintenance', 'add', 'x', '--match', 'nonsense', '--start', '2026-01-01T00:00:00Z', '--end', '2026-01-02T00:00:00Z', '--by', 'me']);
    expect(matcher.stderr).toMatch(/^opsctl: matchers\.0: "nonsense" is not a matcher/);
    const missing = opsctl(['maintenance', 'remove', 'no-such-window', '--by', 'me']);
    expect(missing).toMatchObject({ status: 1, stderr: 'opsctl: no maintenance window named "no-such-window"\n' });
  });

  it('says in one line when the database cannot be reached', () => {
    const result = opsctl(['maintenance', 'list'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/ops' });
    expect(result.status).toBe(3);
    expect(result.stderr).toMatch(/^opsctl: cannot reach PostgreSQL \(DATABASE_URL\): .*\n$/);
  });
});
