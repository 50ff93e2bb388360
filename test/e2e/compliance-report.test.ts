import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { createPgPool } from '../../src/clients/postgres.js';
import { createSmtpTransport } from '../../src/clients/smtp.js';
import { parsePolicy } from '../../src/config/policy.js';
import { migrate } from '../../src/db/migrate.js';
import { failureMessage } from '../../src/domain/failures.js';
import { complianceReportWorkflow, type ComplianceReportInput } from '../../workflows/compliance-report.js';
import { opsctlAsync } from '../support/opsctl.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { connectStack, seededDatabase, startBackgroundWorker, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * complianceReportWorkflow over a database of the test's own, seeded with a
 * month of backups, drills, rollouts, incidents, runbook steps and changes whose
 * verdicts are known: each control's line is checked, the report lands in an
 * Object Lock bucket that refuses to delete it, and it is mailed.
 */
const HOUR = 3_600_000;
const MINUTE = 60_000;
const october = (day: number, hour = 0, minute = 0) => new Date(Date.UTC(2026, 9, day, hour, minute)).toISOString();

describe('compliance report', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  let pool: pg.Pool;
  const mail = new SmtpSink();
  const taskQueue = uniqueTaskQueue('compliance');
  const tag = taskQueue.slice(-8);
  const prefix = `compliance-${tag}`;
  let run = 0;
  const report = (input: ComplianceReportInput) =>
    clients.client.workflow.execute(complianceReportWorkflow, { taskQueue, workflowId: `compliance-report-${tag}-${(run += 1)}`, args: [{ month: '2026-10', ...input }] });

  beforeAll(async () => {
    clients = await connectStack();
    await mail.start();
    const url = await seededDatabase(`compliance_${tag.replace(/-/g, '_')}`, 'SELECT 1');
    pool = createPgPool(url, 'ops-compliance-test');
    await migrate(pool);
    await seedMonth(pool);
    const policy = parsePolicy(
      {
        databases: { orders: { urlFromEnv: 'ORDERS_DATABASE_URL' } },
        rollouts: { windows: [{ name: 'office-hours', weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }] }] },
        compliance: { prefix, retention: '1d', recipients: ['auditor@example.com'] },
      },
      'test',
    );
    worker = await startBackgroundWorker(taskQueue, createActivities(clients.activityDeps({ pool, policy, taskQueue, smtp: createSmtpTransport(mail.url) })));
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    await mail.stop();
    await pool?.end();
    await clients?.close();
  });

  it('judges each control from the seeded records, locks the report in S3 and mails it', async () => {
    const result = await report({});
    expect(result.window).toEqual({ month: '2026-10', start: october(1), end: new Date(Date.UTC(2026, 10, 1)).toISOString() });
    expect(result.controls.map((control) => [control.id, control.passed, control.detail])).toEqual([
      ['backups', false, 'default: 29 taken, longest gap 72.0 h; orders: 31 taken, longest gap 24.0 h (target: no gap over 26.0 h)'],
      ['restore-drills', false, 'default: 1 passed, 1 failed; orders: 4 passed, 0 failed'],
      ['rollouts', true, '3 rollouts changed a workload, 3 after a scan, 1 approved of 1 needing approval'],
      [
        'incident-response',
        false,
        '5 incidents, 3 within target; late or unanswered: inc-high (high, 2.0 h against 1.0 h), inc-low (low, no response against 24.0 h)',
      ],
      ['runbooks', true, '1 runbook runs, 1 steps refused by guardrails, 0 failed'],
      ['change-windows', false, `3 changes outside the windows, 1 without approval or incident: rollout.image-set k8s/shop/deployment/search at ${october(25, 4)}`],
      ['audit-trail', true, expect.stringMatching(/^\d+ rows in 2 hash chains verify$/)],
    ]);
    expect(result.summary).toBe('3/7 controls passed (failed: backups, restore-drills, incident-response, change-windows)');

    // The report, in Markdown and HTML, under Object Lock for the policy's retention.
    expect(result.bucket).toBe(`${clients.stack.s3.bucket}-compliance`);
    const markdown = await (await clients.s3.send(new GetObjectCommand({ Bucket: result.bucket, Key: result.markdownKey }))).Body!.transformToString('utf8');
    expect(result.markdownKey).toBe(`${prefix}/2026-10.md`);
    expect(markdown).toContain('# Compliance report, 2026-10');
    expect(markdown).toContain('| Backups taken per database (backups) | FAIL |');
    expect(markdown).toContain('| Changes to workloads scanned and approved (rollouts) | PASS |');
    expect(markdown).toContain(`| rollout-cart | k8s/shop/deployment/cart | registry/shop/cart:2.0.0 | ${october(9, 12)} | succeeded | 3 vulnerabilities, none new at HIGH or above | alice |`);
    // The audit chains' heads at the time of the report are anchored in it.
    const heads = await pool.query<{ stream: string; seq: string; hash: string }>('SELECT stream, seq::text, hash FROM audit_chain_heads ORDER BY stream');
    for (const head of heads.rows.filter((row) => row.stream !== 'compliance')) expect(markdown).toContain(`| ${head.stream} | ${head.seq} | ${head.hash} |`);
    const html = await (await clients.s3.send(new GetObjectCommand({ Bucket: result.bucket, Key: result.htmlKey }))).Body!.transformToString('utf8');
    expect(html).toContain('<td class="fail">FAIL</td>');
    expect(html).not.toMatch(/<script|src="http/);

    const head = await clients.s3.send(new HeadObjectCommand({ Bucket: result.bucket, Key: result.htmlKey }));
    expect(head.ObjectLockMode).toBe('COMPLIANCE');
    expect(Math.abs(head.ObjectLockRetainUntilDate!.getTime() - (Date.now() + 24 * HOUR))).toBeLessThan(10 * MINUTE);
    expect(head.VersionId).toBe(result.versions.html);
    // Deleting the locked version is refused; a plain delete only hides it behind a marker.
    const refused = await clients.s3.send(new DeleteObjectCommand({ Bucket: result.bucket, Key: result.htmlKey, VersionId: result.versions.html })).catch((error: unknown) => error);
    // AWS answers AccessDenied, MinIO InvalidRequest "Object is WORM protected": both refuse.
    expect(refused).toBeInstanceOf(S3ServiceException);
    expect((refused as Error).message).toMatch(/WORM protected|Access Denied/);
    await clients.s3.send(new DeleteObjectCommand({ Bucket: result.bucket, Key: result.htmlKey }));
    const kept = await clients.s3.send(new GetObjectCommand({ Bucket: result.bucket, Key: result.htmlKey, VersionId: result.versions.html }));
    expect(await kept.Body!.transformToString('utf8')).toBe(html);

    expect(mail.messages).toHaveLength(1);
    expect(mail.messages[0]).toMatchObject({ to: ['auditor@example.com'], subject: 'Compliance report 2026-10: 3/7 controls passed' });
    expect(mail.messages[0]!.raw).toContain('text/html');
  });

  it('fails the audit-trail control when a row was altered, naming it', async () => {
    const { rows } = await pool.query<{ id: string }>(`SELECT id::text FROM audit_events WHERE action = 'rollout.approved'`);
    await pool.query(`UPDATE audit_events SET actor = 'mallory' WHERE id = $1`, [rows[0]!.id]);
    try {
      const result = await report({ recipients: [] });
      const audit = result.controls.find((control) => control.id === 'audit-trail')!;
      expect(audit.passed).toBe(false);
      expect(audit.detail).toContain(`rollout row ${rows[0]!.id}`);
      expect(result).not.toHaveProperty('email');
    } finally {
      await pool.query(`UPDATE audit_events SET actor = 'alice' WHERE id = $1`, [rows[0]!.id]);
    }
  });

  it('is run by opsctl compliance run, which writes the report locally too and exits 1 on a failed control', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ops-compliance-out-')), 'october.md');
    const run = await opsctlAsync(['--json', 'compliance', 'run', '--month', '2026-10', '--no-mail', '--out', out, '--by', 'carol'], { OPS_TASK_QUEUE: taskQueue });
    expect(run.status, run.stderr).toBe(1);
    const result = JSON.parse(run.stdout) as { summary: string; markdownKey: string; out: string };
    expect(result).toMatchObject({ summary: '3/7 controls passed (failed: backups, restore-drills, incident-response, change-windows)', markdownKey: `${prefix}/2026-10.md`, out });
    expect(readFileSync(out, 'utf8')).toContain('| Backups taken per database (backups) | FAIL |');
    expect(mail.messages).toHaveLength(1);
    const bad = await opsctlAsync(['compliance', 'run', '--month', '2026-13'], { OPS_TASK_QUEUE: taskQueue });
    expect([bad.status, bad.stderr]).toEqual([2, "error: option '--month <YYYY-MM>' argument '2026-13' is invalid. expected YYYY-MM\n"]);
  });

  it('refuses a bucket without Object Lock and a month that is not one', async () => {
    const plain = parsePolicy({ compliance: { bucket: clients.stack.s3.bucket, prefix } }, 'test');
    const queue = uniqueTaskQueue('compliance-plain');
    const other = await startBackgroundWorker(queue, createActivities(clients.activityDeps({ pool, policy: plain, taskQueue: queue })));
    try {
      const error = await clients.client.workflow.execute(complianceReportWorkflow, { taskQueue: queue, workflowId: `compliance-plain-${tag}`, args: [{ month: '2026-10' }] }).catch((caught: unknown) => caught);
      expect(failureMessage(error)).toBe(`bucket ${clients.stack.s3.bucket} exists without Object Lock, which only its creation can turn on: name another bucket, or let ops-automation create it`);
    } finally {
      await other.stop();
    }
    const bad = await report({ month: '2026-13' }).catch((caught: unknown) => caught);
    expect(failureMessage(bad)).toBe('month must be YYYY-MM, not "2026-13"');
  });
});

/** October 2026 as the records tell it. */
async function seedMonth(pool: pg.Pool): Promise<void> {
  const backup = (database: string, finished: string, verified?: string) =>
    pool.query(
      `INSERT INTO backups (database, bucket, object_key, manifest_key, bytes, sha256, server_version, started_at, finished_at, workflow_id, verified_at)
       VALUES ($1, 'b', $2, $3, 1024, 'x', '16', $4, $4, 'w', $5)`,
      [database, `${database}-${finished}`, `${database}-${finished}.json`, finished, verified ?? null],
    );
  for (let day = 1; day <= 31; day += 1) {
    // orders: every night, verified each Saturday; default: not on the 11th and 12th, verified once.
    await backup('orders', october(day, 2), [3, 10, 17, 24].includes(day) ? october(day, 5) : undefined);
    if (day !== 11 && day !== 12) await backup('default', october(day, 2), day === 24 ? october(day, 5) : undefined);
  }
  // September's backup is not October's evidence.
  await backup('default', new Date(Date.UTC(2026, 8, 30, 2)).toISOString());

  const incident = (id: string, severity: string, opened: string, acknowledged?: string, resolved?: string, dedupKey = id) =>
    pool.query(
      `INSERT INTO incidents (id, workflow_id, run_id, dedup_key, source, title, service, severity, status, opened_at, acknowledged_at, resolved_at)
       VALUES ($1, $1, 'run', $2, 'alertmanager', $1, 'api', $3, $4, $5, $6, $7)`,
      [id, dedupKey, severity, resolved ? 'resolved' : acknowledged ? 'acknowledged' : 'triggered', opened, acknowledged ?? null, resolved ?? null],
    );
  await incident('inc-critical', 'critical', october(5, 10), october(5, 10, 10), october(5, 11));
  await incident('inc-high', 'high', october(7, 10), october(7, 12), october(7, 13));
  await incident('inc-medium', 'medium', october(8, 10), undefined, october(8, 10, 30));
  await incident('inc-low', 'low', october(9, 10));
  // The drill of default failed once: its incident counts as a failed drill (and as an incident).
  await incident('inc-drill', 'high', october(17, 5), october(17, 5, 20), october(17, 6), 'restore-drill-failed-default');

  let sequence = 0;
  const audit = (workflow: string, action: string, at: string, target: string, details: Record<string, string> = {}, actor = 'system', outcome = 'succeeded') =>
    pool.query(`INSERT INTO audit_events (occurred_at, actor, action, target, outcome, details, workflow_id, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
      at,
      actor,
      action,
      target,
      outcome,
      JSON.stringify(details),
      workflow,
      `${workflow}:${action}:${(sequence += 1)}`,
    ]);
  const rollout = async (name: string, steps: Array<[string, string, string?]>, image: string) => {
    for (const [step, at, actor] of steps) {
      await audit(`rollout-${name}`, `rollout.${step}`, at, `k8s/shop/deployment/${name}`, { image, detail: step === 'scanned' ? '3 vulnerabilities, none new at HIGH or above' : step }, actor);
    }
  };
  // A patch bump inside office hours; a major bump approved by alice, set on a Saturday night; a refused one; a patch set on a Sunday without approval.
  await rollout('api', [['checked', october(6, 10)], ['scanned', october(6, 10)], ['image-set', october(6, 10, 5)], ['rolled-out', october(6, 10, 6)], ['done', october(6, 10, 11)]], 'registry/shop/api:1.0.1');
  await rollout(
    'cart',
    [['checked', october(9, 12)], ['scanned', october(9, 12)], ['awaiting-approval', october(9, 12)], ['approved', october(10, 2, 59), 'alice'], ['image-set', october(10, 3)], ['done', october(10, 3, 10)]],
    'registry/shop/cart:2.0.0',
  );
  await rollout('web', [['checked', october(12, 10)], ['refused', october(12, 10)]], 'registry/shop/web:9.9.9');
  await rollout('search', [['checked', october(25, 4)], ['scanned', october(25, 4)], ['image-set', october(25, 4)], ['done', october(25, 4, 5)]], 'registry/shop/search:3.0.1');

  // A runbook at night, answering an incident: one step done, one refused by its guardrail.
  await audit('remediation-1', 'remediation.restart-pods', october(20, 3), 'k8s/shop/deployment/api', { runbook: 'api-restart', incident: 'incident-api-down' });
  await audit('remediation-1', 'remediation.scale', october(20, 3, 1), 'k8s/shop/deployment/api', { runbook: 'api-restart', incident: 'incident-api-down' }, 'system', 'refused');
}
