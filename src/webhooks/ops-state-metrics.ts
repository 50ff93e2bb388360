import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { Gauge, type Registry } from 'prom-client';
import { listOwnSchedules } from '../../schedules/apply.js';

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

export function registerOpsStateMetrics(registry: Registry, sources: OpsStateSources): void {
  const quietly = async (read: () => Promise<void>) => {
    try {
      await read();
    } catch {
      // Unreadable this scrape: the gauge stays empty.
    }
  };

  new Gauge({
    name: 'ops_backup_last_success_timestamp_seconds',
    help: 'When the newest successful backup of each database finished (Unix seconds).',
    labelNames: ['database'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      await quietly(async () => {
        const { rows } = await sources.pool.query<{ database: string; finished: number }>('SELECT database, extract(epoch FROM max(finished_at))::float8 AS finished FROM backups GROUP BY database');
        for (const row of rows) this.set({ database: row.database }, row.finished);
      });
    },
  });

  new Gauge({
    name: 'ops_backup_last_verified_timestamp_seconds',
    help: 'When the newest backup of each database that a restore verified was verified (Unix seconds).',
    labelNames: ['database'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      await quietly(async () => {
        const { rows } = await sources.pool.query<{ database: string; verified: number }>(
          'SELECT database, extract(epoch FROM max(verified_at))::float8 AS verified FROM backups WHERE verified_at IS NOT NULL GROUP BY database',
        );
        for (const row of rows) this.set({ database: row.database }, row.verified);
      });
    },
  });

  new Gauge({
    name: 'ops_incidents_open',
    help: 'Incidents not resolved, by severity and status.',
    labelNames: ['severity', 'status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      await quietly(async () => {
        const { rows } = await sources.pool.query<{ severity: string; status: string; count: number }>(
          "SELECT severity, status, count(*)::int AS count FROM incidents WHERE status <> 'resolved' GROUP BY severity, status",
        );
        for (const row of rows) this.set({ severity: row.severity, status: row.status }, row.count);
      });
    },
  });

  new Gauge({
    name: 'ops_pages_last_24h',
    help: 'Pages and notifications sent in the last 24 hours, by channel, escalation level and outcome.',
    labelNames: ['channel', 'level', 'outcome'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      await quietly(async () => {
        const { rows } = await sources.pool.query<{ channel: string; level: number | null; outcome: string; count: number }>(
          "SELECT channel, level, outcome, count(*)::int AS count FROM notifications WHERE sent_at > now() - interval '24 hours' GROUP BY channel, level, outcome",
        );
        for (const row of rows) this.set({ channel: row.channel, level: row.level === null ? 'none' : String(row.level), outcome: row.outcome }, row.count);
      });
    },
  });

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
    new Gauge({
      name,
      help,
      labelNames: ['schedule'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        await quietly(async () => {
          for (const state of await schedules()) {
            const current = value(state);
            if (current !== undefined) this.set({ schedule: state.id }, current);
          }
        });
      },
    });
  scheduleGauge('ops_schedule_missed_runs', 'Runs of each of our schedules that Temporal skipped because they fell outside the catch-up window (only grows).', (state) => state.missed);
  scheduleGauge('ops_schedule_last_run_timestamp_seconds', 'When each of our schedules last started a workflow (Unix seconds).', (state) => state.lastRun);
  scheduleGauge('ops_schedule_paused', '1 when an operator paused the schedule.', (state) => (state.paused ? 1 : 0));
}
