import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/policy.js';
import { scheduleDefinitions } from '../../schedules/definitions.js';

describe('schedule definitions', () => {
  it('start each database job under the workflow ID opsctl and the workflow itself use', () => {
    const definitions = scheduleDefinitions(parsePolicy({ databases: { orders: { urlFromEnv: 'ORDERS_DATABASE_URL' } } }, 'test'), { databases: ['orders'], heartbeat: true });
    expect(Object.fromEntries(definitions.map((definition) => [definition.scheduleId, definition.workflowId]))).toEqual({
      'ops-backup-orders': 'backup-orders',
      'ops-restore-drill-orders': 'restore-drill-orders',
      'ops-maintenance-orders': 'maintenance-orders',
      'ops-report-daily': 'report-daily',
      'ops-report-weekly': 'report-weekly',
      'ops-compliance-report': 'compliance-report',
      'ops-heartbeat': 'heartbeat',
    });
  });

  it('declare the daily report at 08:00 and the weekly one on Monday at 08:00, in the configured time zone', () => {
    const definitions = scheduleDefinitions(parsePolicy({ schedules: { timeZone: 'Europe/Berlin' } }, 'test'));
    expect(definitions.filter((definition) => definition.workflowType === 'reportWorkflow').map(({ scheduleId, when, timeZone, args, overlap }) => ({ scheduleId, when, timeZone, args, overlap }))).toEqual([
      { scheduleId: 'ops-report-daily', when: '0 8 * * *', timeZone: 'Europe/Berlin', args: [{ period: 'daily', requestedBy: 'schedule' }], overlap: 'SKIP' },
      { scheduleId: 'ops-report-weekly', when: '0 8 * * mon', timeZone: 'Europe/Berlin', args: [{ period: 'weekly', requestedBy: 'schedule' }], overlap: 'SKIP' },
    ]);
  });

  it('declare the daily image scan only when the policy lists workloads to scan', () => {
    const policy = parsePolicy({ rollouts: { scan: { workloads: [{ namespace: 'shop', deployment: 'api' }] } } }, 'test');
    expect(scheduleDefinitions(policy).find((definition) => definition.workflowType === 'imageScanWorkflow')).toMatchObject({
      scheduleId: 'ops-image-scan',
      when: '0 6 * * *',
      workflowId: 'image-scan',
      overlap: 'SKIP',
      note: 'Daily scan of the images of 1 workloads; starts rollouts of newer tags that fix vulnerabilities',
    });
    expect(scheduleDefinitions(parsePolicy({}, 'test')).map((definition) => definition.workflowType)).not.toContain('imageScanWorkflow');
  });

  it('declare the health check every 5 minutes only when the policy lists workloads to check', () => {
    const without = scheduleDefinitions(parsePolicy({}, 'test'));
    expect(without.map((definition) => definition.scheduleId)).toEqual(['ops-backup-default', 'ops-restore-drill-default', 'ops-maintenance-default', 'ops-report-daily', 'ops-report-weekly', 'ops-compliance-report']);

    const policy = parsePolicy({ healthCheck: { targets: [{ namespace: 'shop', deployment: 'api' }, { namespace: 'shop', deployment: 'web' }] } }, 'test');
    const health = scheduleDefinitions(policy).find((definition) => definition.scheduleId === 'ops-health-check');
    expect(health).toEqual({
      scheduleId: 'ops-health-check',
      when: 'every 5m',
      timeZone: 'UTC',
      workflowType: 'healthCheckWorkflow',
      workflowId: 'health-check',
      args: [{ requestedBy: 'schedule' }],
      overlap: 'SKIP',
      catchupWindow: '4m',
      note: 'Health check of 2 workloads: stuck pods, CPU scaling, memory growth',
    });
    const off = parsePolicy({ schedules: { healthCheck: 'off' }, healthCheck: { targets: [{ namespace: 'shop', deployment: 'api' }] } }, 'test');
    expect(scheduleDefinitions(off).map((definition) => definition.scheduleId)).not.toContain('ops-health-check');
  });

  it('declare the heartbeat every minute only when OPS_HEARTBEAT_URL is set', () => {
    expect(scheduleDefinitions(parsePolicy({}, 'test')).map((definition) => definition.workflowType)).not.toContain('heartbeatWorkflow');
    expect(scheduleDefinitions(parsePolicy({}, 'test'), { heartbeat: true }).find((definition) => definition.workflowType === 'heartbeatWorkflow')).toMatchObject({
      scheduleId: 'ops-heartbeat',
      when: 'every 1m',
      workflowId: 'heartbeat',
      overlap: 'SKIP',
      catchupWindow: '10s',
    });
  });
  it('declare one deployment monitor per environment, at its interval', () => {
    const policy = parsePolicy({ environments: { production: { namespaces: ['shop'] }, staging: { selector: 'tier=web', interval: '5m' } } }, 'test');
    const monitors = scheduleDefinitions(policy).filter((definition) => definition.workflowType === 'deploymentMonitorWorkflow');
    expect(monitors.map(({ scheduleId, when, workflowId, args, overlap }) => ({ scheduleId, when, workflowId, args, overlap }))).toEqual([
      { scheduleId: 'ops-deployment-monitor-production', when: 'every 1m', workflowId: 'deployment-monitor-production', args: [{ environment: 'production', requestedBy: 'schedule' }], overlap: 'SKIP' },
      { scheduleId: 'ops-deployment-monitor-staging', when: 'every 5m', workflowId: 'deployment-monitor-staging', args: [{ environment: 'staging', requestedBy: 'schedule' }], overlap: 'SKIP' },
    ]);
    expect(() => parsePolicy({ environments: { dev: {} } }, 'test')).toThrow(/environments\.dev.*give namespaces, a selector, or both/s);
  });
});
