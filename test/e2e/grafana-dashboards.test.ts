import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HistoricalPrometheus } from '../support/prometheus.js';

/**
 * The Grafana dashboards in deploy/: well-formed, every panel on the
 * Prometheus data source, every query accepted by a real Prometheus, and
 * every ops_* metric one that ops-automation exports.
 */
const DIR = fileURLToPath(new URL('../../deploy/grafana/dashboards/', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Dashboard {
  uid: string;
  title: string;
  templating: { list: Array<{ name: string }> };
  panels: Array<{ id: number; title: string; datasource: { type: string }; targets: Array<{ expr: string; datasource: { type: string } }> }>;
}

const dashboards = Object.fromEntries(readdirSync(DIR).map((file) => [file, JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Dashboard]));

/** Grafana's variables, as Grafana would fill them in. */
const fill = (expr: string) =>
  expr.replaceAll('$__rate_interval', '5m').replaceAll('$__range', '1d').replaceAll('$__interval', '1m').replaceAll('$service', 'api').replaceAll('$slo', 'api-availability').replaceAll('$environment', 'production');

/** Every metric name ops-automation's own code registers. */
function exportedMetricNames(): Set<string> {
  const names = new Set<string>();
  for (const file of ['src/webhooks/metrics.ts', 'src/webhooks/ops-state-metrics.ts']) {
    for (const match of readFileSync(join(ROOT, file), 'utf8').matchAll(/['"](ops_[a-z0-9_]+)['"]/g)) names.add(match[1]!);
  }
  return names;
}

describe('Grafana dashboards', () => {
  const prometheus = new HistoricalPrometheus(mkdtempSync(join(tmpdir(), 'ops-dashboards-')));
  beforeAll(() => prometheus.start(), 60_000);
  afterAll(() => prometheus.stop());

  it('ship golden signals, SLOs and error budgets, deployments per environment, and ops-automation itself', () => {
    expect(Object.values(dashboards).map((dashboard) => [dashboard.uid, dashboard.title]).sort()).toEqual([
      ['ops-automation', 'ops-automation'],
      ['ops-deployments', 'Deployments'],
      ['ops-golden-signals', 'Service golden signals'],
      ['ops-slo-error-budget', 'SLOs and error budgets'],
    ]);
    for (const dashboard of Object.values(dashboards)) {
      const ids = dashboard.panels.map((panel) => panel.id);
      expect(new Set(ids).size, dashboard.uid).toBe(ids.length);
      for (const panel of dashboard.panels) {
        expect(panel.datasource.type, `${dashboard.uid} ${panel.title}`).toBe('prometheus');
        expect(panel.targets.length, `${dashboard.uid} ${panel.title}`).toBeGreaterThan(0);
      }
    }
  });

  it('let the deployments dashboard be narrowed to an environment, on every panel', () => {
    const deployments = dashboards['deployments.json']!;
    expect(deployments.templating.list.map((variable) => variable.name)).toEqual(['datasource', 'environment']);
    for (const panel of deployments.panels) for (const target of panel.targets) expect(target.expr, panel.title).toContain('environment=~"$environment"');
  });

  it('query only what a real Prometheus accepts and what ops-automation exports', async () => {
    const exported = exportedMetricNames();
    for (const [file, dashboard] of Object.entries(dashboards)) {
      for (const panel of dashboard.panels) {
        for (const target of panel.targets) {
          const response = await fetch(`${prometheus.url}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: fill(target.expr) }) });
          const answer = (await response.json()) as { status: string; error?: string };
          expect(answer, `${file} "${panel.title}": ${target.expr}`).toMatchObject({ status: 'success' });
          for (const [name] of target.expr.matchAll(/\bops_[a-z0-9_]+/g)) expect(exported, `${file} "${panel.title}" uses ${name}`).toContain(name.replace(/_(bucket|count|sum)$/, ''));
        }
      }
    }
  });
});
