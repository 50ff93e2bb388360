import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { Gauge, type Registry } from 'prom-client';
import { listOwnSchedules } from '../../schedules/apply.js';
import { LATEST_CHECKS_SQL } from '../db/deployment-checks.js';

/**
 * What ops-automation keeps in its own tables and schedules, as gauges read
 * at scrape time: the age of every database's last good backup, open
 * incidents, recent pages by escalation level, and scheduled runs Temporal
 * missed. The alerting rules and the ops-automation dashboard read these. A
 * source that cannot be read leaves its gauge empty for that scrape (the
 * rules treat a vanished series as stale), never a made-up zero.
 */
export interface OpsStateSources {
  pool: pg.Pool;
  temporal: Client;
  schedulePrefix: string;
}

type Sample = { labels: Record<string, string>; value: number };

export function registerOpsStateMetrics(registry: Registry, sources: OpsStateSources): void {
  /** A gauge whose samples are read afresh at every scrape; an unreadable source leaves it empty for that scrape. */
  const gauge = (name: string, help: string, labelNames: string[], read: () => Promise<Sample[]>) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        try {
          for (const sample of await read()) this.set(sample.labels, sample.value);
        } catch {
          // Unreadable this scrape: the gauge stays empty.
        }
      },
    });

  /** A gauge from one SQL query: its `value` column, every other column a label (NULL reads "none"). */
  const tableGauge = (name: string, help: string, labelNames: string[], sql: string) =>
    gauge(name, help, labelNames, async () => {
      const { rows } = await sources.pool.query<Record<string, unknown> & { value: number }>(sql);
      return rows.map(({ value, ...labels }) => ({ value, labels: Object.fromEntries(Object.entries(labels).map(([key, label]) => [key, label === null ? 'none' : String(label)])) }));
    });

  tableGauge(
    'ops_backup_last_success_timestamp_seconds',
    'When the newest successful backup of each database finished (Unix seconds).',
    ['database'],
    'SELECT database, extract(epoch FROM max(finished_at))::float8 AS value FROM backups GROUP BY database',
  );
  tableGauge(
    'ops_backup_last_verified_timestamp_seconds',
    'When the newest backup of each database that a restore verified was verified (Unix seconds).',
    ['database'],
    'SELECT database, extract(epoch FROM max(verified_at))::float8 AS value FROM backups WHERE verified_at IS NOT NULL GROUP BY database',
  );
  tableGauge(
    'ops_wal_archive_lag_bytes',
    'WAL the server has written that the archive does not hold yet, by database (bytes).',
    ['database'],
    'SELECT database, lag_bytes::float8 AS value FROM wal_archive_status',
  );
  tableGauge(
    'ops_wal_archive_lag_seconds',
    'Seconds since the WAL archive last held everything the server had written, by database: what a loss of the server would cost. Grows when the archiver stops.',
    ['database'],
    'SELECT database, extract(epoch FROM now() - caught_up_at)::float8 AS value FROM wal_archive_status',
  );
  tableGauge(
    'ops_incidents_open',
    'Incidents not resolved, by severity and status.',
    ['severity', 'status'],
    "SELECT severity, status, count(*)::int AS value FROM incidents WHERE status <> 'resolved' GROUP BY severity, status",
  );
  tableGauge(
    'ops_pages_last_24h',
    'Pages and notifications sent in the last 24 hours, by channel, escalation level and outcome.',
    ['channel', 'level', 'outcome'],
    "SELECT channel, level, outcome, count(*)::int AS value FROM notifications WHERE sent_at > now() - interval '24 hours' GROUP BY channel, level, outcome",
  );

  // The deployment monitor's newest check of each environment (deployment_checks).
  const deployment = ['environment', 'namespace', 'deployment'];
  tableGauge(
    'ops_deployment_replicas',
    "Replicas of each monitored Deployment at the monitor's newest check, by state (desired, ready, available, updated, unavailable).",
    [...deployment, 'state'],
    `SELECT environment, namespace, deployment, s.state, s.value::float8 AS value
       FROM (${LATEST_CHECKS_SQL}) c
       CROSS JOIN LATERAL (VALUES ('desired', c.desired), ('ready', c.ready), ('available', c.available), ('updated', c.updated),
                                  ('unavailable', greatest(c.desired - c.available, 0))) AS s(state, value)`,
  );
  tableGauge(
    'ops_deployment_health_score',
    'Health score 0-100 of each monitored Deployment at the newest check (readiness, restarts, response time, CPU, memory; README "Deployment monitor").',
    deployment,
    `SELECT environment, namespace, deployment, score::float8 AS value FROM (${LATEST_CHECKS_SQL}) c`,
  );
  tableGauge(
    'ops_deployment_response_seconds',
    "Seconds the monitor's GET of each probed Deployment's URL took at the newest check (absent when the probe failed or there is no URL).",
    deployment,
    `SELECT environment, namespace, deployment, response_seconds AS value FROM (${LATEST_CHECKS_SQL}) c WHERE response_seconds IS NOT NULL AND probe_error IS NULL`,
  );

  // One read of the schedules per scrape, shared by the three schedule gauges (collected concurrently).
  type ScheduleState = { id: string; missed: number; lastRun?: number; paused: boolean };
  let reading: { at: number; states: Promise<ScheduleState[]> } | undefined;
  const schedules = (): Promise<ScheduleState[]> => {
    if (!reading || Date.now() - reading.at > 1000) {
      const states = (async () => {
        const found: ScheduleState[] = [];
        for (const id of await listOwnSchedules(sources.temporal, sources.schedulePrefix)) {
          const description = await sources.temporal.schedule.getHandle(id).describe();
          const last = description.info.recentActions.at(-1)?.takenAt;
          found.push({ id, missed: description.info.numActionsMissedCatchupWindow, ...(last ? { lastRun: last.getTime() / 1000 } : {}), paused: description.state.paused });
        }
        return found;
      })();
      reading = { at: Date.now(), states };
    }
    return reading.states;
  };
  const scheduleGauge = (name: string, help: string, value: (state: ScheduleState) => number | undefined) =>
    gauge(name, help, ['schedule'], async () =>
      (await schedules()).flatMap((state) => {
        const current = value(state);
        return current === undefined ? [] : [{ labels: { schedule: state.id }, value: current }];
      }),
    );
  scheduleGauge('ops_schedule_missed_runs', 'Runs of each of our schedules that Temporal skipped because they fell outside the catch-up window (only grows).', (state) => state.missed);
  scheduleGauge('ops_schedule_last_run_timestamp_seconds', 'When each of our schedules last started a workflow (Unix seconds).', (state) => state.lastRun);
  scheduleGauge('ops_schedule_paused', '1 when an operator paused the schedule.', (state) => (state.paused ? 1 : 0));
}
