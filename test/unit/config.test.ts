import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { loadEnv } from '../../src/config/env.js';
import { onCallAt } from '../../src/domain/oncall.js';
import { loadPolicy, parsePolicy } from '../../src/config/policy.js';
import { databaseUrlResolver } from '../../src/config/policy-databases.js';
import { isAgeIdentity, isAgeRecipient } from '../../src/config/age-keys.js';

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('environment', () => {
  it('defaults every variable to the embedded stack', () => {
    const env = loadEnv({});
    expect(env).toMatchObject({
      TEMPORAL_ADDRESS: 'localhost:7233',
      TEMPORAL_NAMESPACE: 'default',
      OPS_TASK_QUEUE: 'ops',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/ops_automation',
      S3_ENDPOINT: 'http://127.0.0.1:9000',
      S3_BUCKET: 'ops-automation',
      OPS_WEBHOOK_PORT: 8080,
      PAGERDUTY_EVENTS_URL: 'https://events.pagerduty.com/v2/enqueue',
    });
    expect(env.SLACK_TOKEN).toBeUndefined();
  });

  it('treats an empty value as unset', () => {
    expect(loadEnv({ OPS_WEBHOOK_PORT: '', TEMPORAL_ADDRESS: '' })).toMatchObject({
      OPS_WEBHOOK_PORT: 8080,
      TEMPORAL_ADDRESS: 'localhost:7233',
    });
  });

  it('names the variable and the problem in one line', () => {
    const error = errorOf(() => loadEnv({ OPS_WEBHOOK_PORT: 'eighty' }));
    expect(error.message).toBe('Invalid environment: OPS_WEBHOOK_PORT: expected a port number (got "eighty")');
    expect(error.message).not.toContain('\n');
  });

  it('leaves the stack trace query off unless OPS_WORKFLOW_STACK_TRACES=on, and refuses a value that is neither', () => {
    expect(loadEnv({}).OPS_WORKFLOW_STACK_TRACES).toBe('off');
    expect(loadEnv({ OPS_WORKFLOW_STACK_TRACES: 'on' }).OPS_WORKFLOW_STACK_TRACES).toBe('on');
    expect(errorOf(() => loadEnv({ OPS_WORKFLOW_STACK_TRACES: 'true' })).message).toContain('OPS_WORKFLOW_STACK_TRACES: expected on or off');
  });

  it('reports every bad variable at once', () => {
    const error = errorOf(() =>
      loadEnv({ TEMPORAL_ADDRESS: 'http://temporal', DATABASE_URL: 'mysql://x', OPS_WEBHOOK_PORT: '70000' }),
    );
    expect(error.message).toContain('TEMPORAL_ADDRESS: expected host:port');
    expect(error.message).toContain('DATABASE_URL: expected a postgres:// or postgresql:// URL');
    expect(error.message).toContain('OPS_WEBHOOK_PORT: expected a port from 0 to 65535 (got "70000")');
  });

  it('never echoes a secret value', () => {
    const error = errorOf(() => loadEnv({ OPS_WEBHOOK_TOKEN: 'short-secret', DATABASE_URL: 'mysql://u:hunter2@db/x' }));
    expect(error.message).toContain('OPS_WEBHOOK_TOKEN: must be at least 16 characters');
    expect(error.message).not.toContain('short-secret');
    expect(error.message).not.toContain('hunter2');
  });

  it('takes an age identity file as OPS_BACKUP_AGE_IDENTITY, and refuses a broken one without echoing it', () => {
    const identity = 'AGE-SECRET-KEY-1MQVD8YERGMLMW3526T2K5LRJTA0Q26WGNTTVL7W67M87H3DUM23Q4K4DKF';
    const file = `# created: 2026-12-04\n# public key: age1gkdkzv5xxmne0kjt3rcpqz6vqfgqdnlpkwx90vfrxghzvj43k44s23a4kx\n${identity}\n`;
    expect(loadEnv({ OPS_BACKUP_AGE_IDENTITY: file }).OPS_BACKUP_AGE_IDENTITY).toBe(file);
    const broken = errorOf(() => loadEnv({ OPS_BACKUP_AGE_IDENTITY: `${identity.slice(0, -3)}\n` }));
    expect(broken.message).toBe('Invalid environment: OPS_BACKUP_AGE_IDENTITY: identity 1 is not an age identity: expected AGE-SECRET-KEY-1... as age-keygen writes it, its checksum intact');
    expect(errorOf(() => loadEnv({ OPS_BACKUP_AGE_IDENTITY: '# only a comment\n' })).message).toBe(
      'Invalid environment: OPS_BACKUP_AGE_IDENTITY: expected one or more AGE-SECRET-KEY-1... lines (an age identity file)',
    );
  });

  it('refuses a KUBECONFIG or OPS_CONFIG that does not exist', () => {
    const error = errorOf(() => loadEnv({ KUBECONFIG: '/nope/kubeconfig', OPS_CONFIG: '/nope/policy.yaml' }));
    expect(error.message).toContain('KUBECONFIG: file does not exist (got "/nope/kubeconfig")');
    expect(error.message).toContain('OPS_CONFIG: file does not exist');
  });
});

describe('policy file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ops-policy-'));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('has defaults when no file is configured', () => {
    expect(loadPolicy(undefined)).toMatchObject({
      version: 1,
      incidents: { quietPeriod: 300_000, reopenWindow: 3_600_000, defaultSeverity: 'medium' },
      grouping: { rules: [] },
      maintenanceWindows: [],
      inhibitRules: [],
    });
    expect(loadConfig({}).policy).toEqual(loadPolicy(undefined));
  });

  it('loads a valid file named by OPS_CONFIG', () => {
    const path = write('ok.yaml', 'version: 1\n');
    expect(loadConfig({ OPS_CONFIG: path }).policy.version).toBe(1);
  });

  it('refuses an unknown section, naming it', () => {
    const path = write('typo.yaml', 'version: 1\nescalatoin: {}\n');
    expect(errorOf(() => loadPolicy(path)).message).toBe(
      `Invalid policy OPS_CONFIG ${path}: (root): unknown key "escalatoin"`,
    );
  });

  it('points at the line of broken YAML', () => {
    const path = write('broken.yaml', 'version: 1\nfoo: [1, 2\n');
    const message = errorOf(() => loadPolicy(path)).message;
    expect(message).toMatch(new RegExp(`^OPS_CONFIG ${path}: not valid YAML at line \\d+, column \\d+: `));
  });

  it('resolves named databases from the environment, and keeps passwords out of the file', () => {
    const path = write('dbs.yaml', 'databases:\n  orders: { urlFromEnv: ORDERS_DATABASE_URL }\n  reports: { url: "postgres://reader@db.internal/reports" }\n');
    const { databases } = loadPolicy(path);
    const resolve = databaseUrlResolver(databases, 'postgres://localhost/ops', { ORDERS_DATABASE_URL: 'postgres://app:s3cret@orders/db' });
    expect(['default', 'orders', 'reports', 'missing'].map(resolve)).toEqual([
      'postgres://localhost/ops',
      'postgres://app:s3cret@orders/db',
      'postgres://reader@db.internal/reports',
      undefined,
    ]);
    const leaky = write('leaky.yaml', 'databases:\n  orders: { url: "postgres://app:s3cret@orders/db" }\n');
    const message = errorOf(() => loadPolicy(leaky)).message;
    expect(message).toBe(`Invalid policy OPS_CONFIG ${leaky}: databases.orders.url: a password does not belong in the policy file: use urlFromEnv`);
    expect(message).not.toContain('s3cret');
  });

  it('gives retention deletes their default age by kind, and refuses a rule with neither', () => {
    const path = write('retention.yaml', 'maintenance:\n  retention:\n    - { table: metrics, column: recorded_at, kind: metrics }\n    - { table: deploy_log, column: at, kind: deployment-logs, batchSize: 100 }\n    - { table: events, column: at, maxAge: 12h }\n');
    expect(loadPolicy(path).maintenance.retention.map((rule) => [rule.table, rule.maxAgeMs / 3_600_000, rule.batchSize])).toEqual([
      ['metrics', 90 * 24, 5000],
      ['deploy_log', 30 * 24, 100],
      ['events', 12, 5000],
    ]);
    expect(loadPolicy(undefined).maintenance.retention).toEqual([
      { database: 'default', table: 'audit_events', column: 'occurred_at', maxAgeMs: 365 * 86_400_000, batchSize: 5000 },
    ]);
    const vague = write('vague.yaml', 'maintenance:\n  retention:\n    - { table: metrics, column: recorded_at }\n');
    expect(errorOf(() => loadPolicy(vague)).message).toBe(
      `Invalid policy OPS_CONFIG ${vague}: maintenance.retention[0]: give maxAge, or a kind (metrics, deployment-logs, audit) for its default`,
    );
  });

  it('sends backups to the bucket it names, and refuses a name S3 would refuse', () => {
    expect(loadPolicy(write('bucket.yaml', 'backups:\n  bucket: ops-backups.eu-1\n')).backups).toMatchObject({ bucket: 'ops-backups.eu-1', prefix: 'backups', verify: true });
    expect(loadPolicy(undefined).backups.bucket).toBeUndefined();
    for (const [name, problem] of [
      ['Ops_Backups', 'may hold only lower-case letters, digits, "." and "-"'],
      ['ab', 'must be 3 to 63 characters long'],
      ['-backups', 'must begin and end with a letter or digit'],
      ['ops..backups', 'must not hold two dots in a row'],
      ['10.0.0.1', 'must not look like an IP address'],
    ]) {
      const path = write(`bucket-${name}.yaml`, `backups:\n  bucket: "${name}"\n`);
      expect(errorOf(() => loadPolicy(path)).message).toBe(`Invalid policy OPS_CONFIG ${path}: backups.bucket: bucket name "${name}" ${problem}`);
    }
  });

  it('encrypts backups to the age recipients it names, and refuses one age would refuse', () => {
    const recipient = 'age1gkdkzv5xxmne0kjt3rcpqz6vqfgqdnlpkwx90vfrxghzvj43k44s23a4kx';
    expect(loadPolicy(write('age.yaml', `backups:\n  encryption:\n    recipients: [${recipient}]\n`)).backups.encryption).toEqual({ recipients: [recipient] });
    expect(loadPolicy(undefined).backups.encryption).toBeUndefined();
    const typo = write('age-typo.yaml', `backups:\n  encryption:\n    recipients: [${recipient.slice(0, -1)}]\n`);
    expect(errorOf(() => loadPolicy(typo)).message).toBe(
      `Invalid policy OPS_CONFIG ${typo}: backups.encryption.recipients[0]: "${recipient.slice(0, -1)}" is not an age recipient: expected a public key as age-keygen prints it (age1..., its checksum intact)`,
    );
    const none = write('age-none.yaml', 'backups:\n  encryption:\n    recipients: []\n');
    expect(errorOf(() => loadPolicy(none)).message).toBe(`Invalid policy OPS_CONFIG ${none}: backups.encryption.recipients: expected at least one age recipient (age1...)`);
  });

  it('turns a default duration into milliseconds when its section is given in part', () => {
    const path = write('partial.yaml', 'incidents:\n  defaultSeverity: high\nmaintenance:\n  retention: []\n');
    const policy = loadPolicy(path);
    expect(policy.incidents).toEqual({ quietPeriod: 300_000, reopenWindow: 3_600_000, defaultSeverity: 'high' });
    expect(policy.maintenance.idleConnectionTimeout).toBe(3_600_000);
  });

  it('refuses an unsupported version', () => {
    const path = write('v2.yaml', 'version: 2\n');
    expect(errorOf(() => loadPolicy(path)).message).toBe(`Invalid policy OPS_CONFIG ${path}: version: expected version: 1`);
  });
});

describe('age keys', () => {
  it('are checked as age reads them, post-quantum ones included, without loading age', async () => {
    const { generateHybridIdentity, generateX25519Identity, identityToRecipient } = await import('age-encryption');
    for (const generate of [generateX25519Identity, generateHybridIdentity]) {
      const identity = await generate();
      const recipient = await identityToRecipient(identity);
      expect([isAgeIdentity(identity), isAgeRecipient(recipient)]).toEqual([true, true]);
      // One character lost, or the wrong case: the checksum or the form gives it away.
      expect([isAgeIdentity(identity.slice(0, -1)), isAgeRecipient(recipient.slice(0, -1)), isAgeIdentity(identity.toLowerCase())]).toEqual([false, false, false]);
      expect([isAgeIdentity(recipient), isAgeRecipient(identity)]).toEqual([false, false]);
    }
  });
});

describe('runbooks in the policy', () => {
  it('name the step, the field and what is wrong', () => {
    const problem = (raw: unknown) => errorOf(() => parsePolicy(raw, 'test')).message;
    expect(problem({ remediation: { runbooks: [{ name: 'a', steps: [{ action: 'reboot' }] }] } })).toBe(
      'Invalid policy test: remediation.runbooks[0].steps[0].action: expected action to be one of restart-pods, rolling-restart, scale, terminate-idle-connections, database-maintenance, http-check, notify',
    );
    expect(problem({ remediation: { runbooks: [{ name: 'a', steps: [{ action: 'scale', namespace: 'x', deployment: 'y', by: 0 }] }] } })).toBe(
      'Invalid policy test: remediation.runbooks[0].steps[0].by: must not be 0',
    );
    expect(problem({ remediation: { runbooks: [{ name: 'a', steps: [{ action: 'notify', text: 'x' }] }, { name: 'a', steps: [{ action: 'notify', text: 'y' }] }] } })).toBe(
      'Invalid policy test: remediation.runbooks: runbook names must be unique',
    );
    expect(problem({ remediation: { runbooks: [{ name: 'a', match: ['alertname=~"("'], steps: [{ action: 'notify', text: 'x' }] }] } })).toBe(
      'Invalid policy test: remediation.runbooks[0].match[0]: "alertname=~"("" has an invalid regular expression',
    );
  });
});

describe('the example policy shipped in deploy/', () => {
  it('is valid and means what its comments say', () => {
    const policy = loadPolicy(fileURLToPath(new URL('../../deploy/policy.example.yaml', import.meta.url)));
    expect(policy.incidents).toEqual({ quietPeriod: 300_000, reopenWindow: 3_600_000, defaultSeverity: 'medium' });
    expect(policy.maintenanceWindows.map((window) => [window.name, window.schedule.kind])).toEqual([
      ['weekly-db-maintenance', 'weekly'],
      ['nightly-batch', 'cron'],
      ['datacenter-migration', 'once'],
    ]);
    expect(policy.inhibitRules[0]?.equal).toEqual(['service']);
    expect(policy.escalation.policies.map((ladder) => [ladder.name, ladder.levels.length, ladder.repeat])).toEqual([
      ['standard', 3, 1],
      ['payments', 2, 0],
    ]);
    expect(policy.escalation.businessHours).toMatchObject({ timeZone: 'Europe/Berlin', startMinute: 540, endMinute: 1080, severities: ['medium', 'low'] });
    expect(policy.escalation.policies[0]!.levels[0]!.targets[0]).toEqual({ type: 'schedule', schedule: 'primary' });
    expect(Object.keys(policy.oncall.people)).toEqual(['alice', 'bob', 'carol', 'dave']);
    // Week 1 of the rotation is alice's; on a weekday at noon dave's layer is on top; bob covers Christmas.
    const primary = policy.oncall.schedules.primary!;
    expect(onCallAt(primary, Date.parse('2026-10-24T10:00:00Z'))).toEqual({ person: 'alice', source: 'layer 1' });
    expect(onCallAt(primary, Date.parse('2026-10-21T10:00:00Z'))).toEqual({ person: 'dave', source: 'layer 2' });
    expect(onCallAt(primary, Date.parse('2026-12-25T10:00:00Z'))).toMatchObject({ person: 'bob', source: 'override' });
    expect(policy.rollouts.approval.approvers).toEqual(['alice', { schedule: 'primary' }]);
    expect(policy.databases).toEqual({ orders: { urlFromEnv: 'ORDERS_DATABASE_URL' } });
    expect(policy.backups.retention).toEqual({ keepLast: 3, daily: 7, weekly: 4, monthly: 6 });
    expect(policy.backups.walArchive).toEqual({ databases: ['orders'], slot: 'ops_wal_archive', switchInterval: 30_000 });
    expect(policy.schedules).toEqual({ timeZone: 'Europe/Berlin', backup: '0 2 * * *', baseBackup: '30 1 * * *', restoreDrill: '0 5 * * sat', maintenance: '0 3 * * sun', dailyReport: '0 8 * * *', weeklyReport: '0 8 * * mon', imageScan: '0 6 * * *', healthCheck: 'every 5m', certificateCheck: '0 7 * * *', complianceReport: '0 6 1 * *' });
    expect(policy.certificates.endpoints.map((endpoint) => [endpoint.host, endpoint.port, endpoint.serverName ?? endpoint.host, endpoint.warnDays ?? policy.certificates.warnDays])).toEqual([
      ['api.example.com', 443, 'api.example.com', 14],
      ['10.0.4.12', 8443, 'payments.internal', 30],
    ]);
    expect(policy.slos.map((slo) => [slo.name, slo.kind, slo.objective, slo.window / 86_400_000])).toEqual([
      ['api-availability', 'availability', 0.999, 30],
      ['api-latency', 'latency', 0.99, 30],
      ['payments-availability', 'availability', 0.9995, 28],
    ]);
    expect(policy.reports).toMatchObject({ services: ['api', 'web', 'payments'], prefix: 'reports', recipients: ['eng-leads@example.com'] });
    expect(policy.remediation.runbooks.map((runbook) => [runbook.name, runbook.steps.map((step) => step.action), runbook.holdEscalation])).toEqual([
      ['restart-api', ['restart-pods', 'rolling-restart', 'http-check'], 600_000],
      ['database-connections', ['terminate-idle-connections', 'notify'], 600_000],
      ['scale-out-web', ['scale'], 600_000],
    ]);
    // Guardrails given in part keep their other defaults.
    expect(policy.remediation.guardrails).toMatchObject({ 'restart-pods': { maxActions: 3, window: 600_000, cooldown: 0 }, scale: { maxActions: 5, window: 3_600_000, cooldown: 300_000 } });
    expect(policy.healthCheck).toMatchObject({ pods: { notReadyFor: 300_000 }, cpu: { scaleUpFor: 600_000, scaleDownFor: 1_800_000, minReplicas: 2 }, memory: { over: 4 * 3_600_000, window: 86_400_000 } });
    expect(policy.rollouts).toMatchObject({ approval: { timeout: 4 * 3_600_000 }, watchWindow: 300_000, analysis: { maxErrorRatioIncrease: 0.05 } });
    expect(policy.maintenance.retention.map((rule) => [rule.database, rule.table, rule.maxAgeMs / 86_400_000])).toEqual([
      ['default', 'audit_events', 365],
      ['orders', 'metrics', 90],
      ['orders', 'ops.deploy_logs', 30],
    ]);
  });
});
