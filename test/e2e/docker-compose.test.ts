import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { loadEnv } from '../../src/config/env.js';
import { dropDatabase, withDatabase } from '../../scripts/stack/postgres.js';
import { ensureTemporalServer, TEMPORAL_SERVER_VERSION } from '../../scripts/stack/temporal-cluster-tools.js';
import { testStack } from '../support/stack.js';

/**
 * docker-compose.yml is validated by Debian's docker-compose, which parses and
 * interpolates it without a Docker engine, and checked against the contracts:
 * the service names, the ports, and an environment our own config accepts.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface ComposeService {
  ports?: Array<{ published: number | string; target: number }>;
  environment?: Record<string, string>;
  command?: string[];
  image?: string;
  volumes?: string[];
  build?: unknown;
}

function composeConfig(env: Record<string, string>) {
  return spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
}

describe('docker-compose.yml', () => {
  const result = composeConfig({ OPS_WEBHOOK_TOKEN: 'compose-test-token-0123456789' });
  const services = (parse(result.stdout ?? '') as { services?: Record<string, ComposeService> } | null)?.services ?? {};

  it('is valid for docker-compose', () => {
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.status).toBe(0);
  });

  it('brings up every role of the design', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['alertmanager', 'data-worker', 'grafana', 'minio', 'postgresql', 'prometheus', 'temporal', 'temporal-namespace', 'temporal-schema', 'temporal-ui', 'webhooks', 'worker'].sort(),
    );
  });

  it('runs the Temporal server our tests run, from our cluster config, on PostgreSQL', () => {
    const version = TEMPORAL_SERVER_VERSION.replace(/^v/, '');
    expect(services.temporal?.image).toBe(`temporalio/server:${version}`);
    expect(services['temporal-schema']?.image).toBe(`temporalio/admin-tools:${version}`);
    expect(services['temporal-namespace']?.image).toBe(`temporalio/admin-tools:${version}`);
    expect(services.temporal?.command?.join(' ')).toContain('temporal-server --config-file /etc/temporal/ops/cluster.yaml');
    expect(services.temporal?.volumes).toContain(`${ROOT}deploy/temporal:/etc/temporal/ops:ro`);
    expect(services.temporal?.environment?.TEMPORAL_DB_HOST).toBe('postgresql');
  });

  it("sets Temporal's schemas up with the server's own tool, and running it again changes nothing", async () => {
    const { sqlTool } = await ensureTemporalServer();
    const script = services['temporal-schema']!.command![0]!;
    const suffix = Date.now().toString(36);
    // The compose file's script against the test PostgreSQL, under databases of this test's own.
    const local = script.replaceAll('temporal-sql-tool', sqlTool).replace('temporal:temporal temporal_visibility:visibility', `compose_${suffix}:temporal compose_${suffix}_visibility:visibility`).replaceAll('$$', '$');
    const admin = new URL(testStack().adminDatabaseUrl);
    const env = { PATH: process.env.PATH, SQL_PLUGIN: 'postgres12', SQL_HOST: admin.hostname, SQL_PORT: admin.port || '5432', SQL_USER: admin.username || 'postgres', SQL_PASSWORD: decodeURIComponent(admin.password) };
    try {
      for (let run = 1; run <= 2; run += 1) {
        const setup = spawnSync('sh', ['-c', local], { env, encoding: 'utf8' });
        expect(setup.status, `run ${run}: ${setup.stderr.slice(-500)}`).toBe(0);
      }
      const versions = async (database: string) => {
        const client = new pg.Client({ connectionString: withDatabase(testStack().adminDatabaseUrl, database) });
        await client.connect();
        try {
          return (await client.query<{ curr_version: string }>('SELECT curr_version FROM schema_version')).rows.map((row) => row.curr_version);
        } finally {
          await client.end();
        }
      };
      // The newest versioned directories of the server's schemas (postgresql/v12/*/versioned).
      expect(await versions(`compose_${suffix}`)).toEqual(['1.18']);
      expect(await versions(`compose_${suffix}_visibility`)).toEqual(['1.13']);
    } finally {
      for (const database of [`compose_${suffix}`, `compose_${suffix}_visibility`]) await dropDatabase(testStack().adminDatabaseUrl, database);
    }
  });

  it("builds the worker image with a pg_dump that can dump compose's PostgreSQL (pg_dump refuses a newer server)", () => {
    const dockerfile = readFileSync(`${ROOT}/Dockerfile`, 'utf8');
    const client = Number(/ARG PG_CLIENT_MAJOR=(\d+)/.exec(dockerfile)?.[1]);
    expect(dockerfile).toContain('postgresql-client-${PG_CLIENT_MAJOR}');
    const server = Number(/^postgres:(\d+)/.exec(services.postgresql?.image ?? '')?.[1]);
    expect(server).toBeGreaterThan(0);
    expect(client).toBeGreaterThanOrEqual(server);
  });

  it('publishes the contract ports', () => {
    const published = (name: string) => (services[name]?.ports ?? []).map((port) => Number(port.published));
    expect(published('temporal')).toContain(7233);
    expect(published('temporal-ui')).toContain(8233);
    expect(published('webhooks')).toContain(8080);
    expect(published('minio')).toEqual(expect.arrayContaining([9000, 9001]));
    expect(published('postgresql')).toContain(5432);
    expect(published('prometheus')).toContain(9090);
    expect(published('alertmanager')).toContain(9093);
    expect(published('grafana')).toContain(3000);
    expect(published('worker')).toContain(9464);
  });

  it('gives the worker and the webhook server an environment our config accepts', () => {
    for (const name of ['worker', 'webhooks', 'data-worker']) {
      const env = loadEnv(services[name]?.environment ?? {});
      expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
      expect(env.OPS_TASK_QUEUE).toBe('ops');
      expect(env.DATABASE_URL).toBe('postgres://ops:ops@postgresql:5432/ops_automation');
      expect(env.S3_ENDPOINT).toBe('http://minio:9000');
    }
    expect(loadEnv(services.webhooks?.environment ?? {}).OPS_WEBHOOK_PORT).toBe(8080);
  });

  it('runs entrypoints that the build produces', () => {
    expect(services.worker?.command).toEqual(['node', '--max-semi-space-size=16', '--heap-growing-percent=100', 'dist/workers/main.js']);
    // The data worker runs as `npm run start:data-worker` does, and both workers agree on its queue.
    expect(['node', ...(services['data-worker']?.command ?? []).slice(1)].join(' ')).toBe((JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts['start:data-worker']);
    expect(services.worker?.environment?.OPS_DATA_TASK_QUEUE).toBe(services['data-worker']?.environment?.OPS_DATA_TASK_QUEUE);
    expect(services.webhooks?.command).toEqual(['node', 'dist/src/webhooks/main.js']);
    expect(existsSync(`${ROOT}/workers/main.ts`)).toBe(true);
    expect(existsSync(`${ROOT}/workers/data-worker.ts`)).toBe(true);
    expect(existsSync(`${ROOT}/src/webhooks/main.ts`)).toBe(true);
  });

  it('ships alerting rules whose unit tests pass: every rule on both sides of its threshold', () => {
    // promtool exits non-zero on any failed case; its output names the case.
    const result = spawnSync('promtool', ['test', 'rules', 'deploy/prometheus/rules/tests/rules.test.yml', 'deploy/prometheus/rules/tests/slo.test.yml', 'deploy/prometheus/rules/tests/deployments.test.yml'], { cwd: ROOT, encoding: 'utf8' });
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('SUCCESS');
  });

  it('refuses to start without a webhook token, naming the variable', () => {
    const missing = composeConfig({});
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('set OPS_WEBHOOK_TOKEN');
  });

  it('ships Prometheus and Alertmanager configs their own tools accept', () => {
    execFileSync('promtool', ['check', 'config', 'deploy/prometheus/prometheus.yml'], { cwd: ROOT, stdio: 'pipe' });
    execFileSync('amtool', ['check-config', 'deploy/alertmanager/alertmanager.yml'], { cwd: ROOT, stdio: 'pipe' });
    const rules = execFileSync('promtool', ['check', 'rules', 'deploy/prometheus/rules/services.rules.yml', 'deploy/prometheus/rules/ops-automation.rules.yml', 'deploy/prometheus/rules/slo.rules.yml', 'deploy/prometheus/rules/deployments.rules.yml'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    // The SLO file: 9 recording rules and 2 burn-rate alerts for each of the example policy's 3 SLOs; the deployment monitor's: 3 recording, 2 alerts.
    expect(rules.match(/SUCCESS: \d+ rules found/g)).toEqual(['SUCCESS: 9 rules found', 'SUCCESS: 5 rules found', 'SUCCESS: 33 rules found', 'SUCCESS: 5 rules found']);
    const alertmanager = parse(readFileSync(`${ROOT}/deploy/alertmanager/alertmanager.yml`, 'utf8')) as {
      receivers: Array<{ webhook_configs: Array<{ url: string }> }>;
    };
    expect(alertmanager.receivers[0]?.webhook_configs[0]?.url).toBe('http://webhooks:8080/webhooks/alertmanager');
  });

  it('routes ops-automation\'s own alerts and the Watchdog straight to PagerDuty, never through the intake', () => {
    const receiverOf = (...labels: string[]) =>
      execFileSync('amtool', ['config', 'routes', 'test', '--config.file=deploy/alertmanager/alertmanager.yml', ...labels], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    expect(receiverOf('alertname=Watchdog', 'priority=P5', 'severity=low')).toBe('watchdog');
    for (const alertname of ['OpsWorkerDown', 'OpsWebhookErrors', 'OpsWorkflowTaskFailures', 'OpsScheduleMissed']) {
      expect(receiverOf(`alertname=${alertname}`, 'service=ops-automation', 'severity=critical')).toBe('ops-automation-self');
    }
    expect(receiverOf('alertname=HighErrorRatio', 'service=checkout', 'severity=critical')).toBe('ops-automation');
    const alertmanager = parse(readFileSync(`${ROOT}/deploy/alertmanager/alertmanager.yml`, 'utf8')) as {
      receivers: Array<{ name: string; pagerduty_configs?: Array<{ routing_key_file: string }>; webhook_configs?: unknown[] }>;
    };
    for (const name of ['watchdog', 'ops-automation-self']) {
      const receiver = alertmanager.receivers.find((entry) => entry.name === name)!;
      expect(receiver.webhook_configs).toBeUndefined();
      expect(receiver.pagerduty_configs?.[0]?.routing_key_file).toMatch(/^\/tmp\/pagerduty-/);
    }
  });
});
