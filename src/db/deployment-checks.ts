import type pg from 'pg';
import type { DeploymentHealth } from '../domain/deployment-health.js';

/**
 * The deployment monitor's checks (deployment_checks): one row per deployment
 * per check, all rows of a check sharing its time, kept for the environment's
 * retention. /metrics reads each environment's newest check; `opsctl monitor
 * report` sums up a period.
 */
export async function recordChecks(pool: pg.Pool, input: { environment: string; checkedAt: string; deployments: DeploymentHealth[]; retentionMs: number }): Promise<{ recorded: number; pruned: number }> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    let recorded = 0;
    for (const health of input.deployments) {
      const result = await client.query(
        `INSERT INTO deployment_checks (checked_at, environment, namespace, deployment, desired, ready, available, updated, restarts,
                                        response_seconds, probe_error, cpu_ratio, memory_ratio, score, state, reasons)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         ON CONFLICT (environment, namespace, deployment, checked_at) DO NOTHING`,
        [
          input.checkedAt,
          input.environment,
          health.namespace,
          health.deployment,
          health.desired,
          health.ready,
          health.available,
          health.updated,
          health.restarts,
          health.responseSeconds ?? null,
          health.probeError ?? null,
          health.cpuRatio ?? null,
          health.memoryRatio ?? null,
          health.score,
          health.state,
          JSON.stringify(health.reasons),
        ],
      );
      recorded += result.rowCount ?? 0;
    }
    const pruned = await client.query(`DELETE FROM deployment_checks WHERE environment = $1 AND checked_at < $2::timestamptz - $3 * interval '1 millisecond'`, [
      input.environment,
      input.checkedAt,
      input.retentionMs,
    ]);
    await client.query('COMMIT');
    return { recorded, pruned: pruned.rowCount ?? 0 };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** The rows of each environment's newest check, as /metrics exports them. */
export const LATEST_CHECKS_SQL = `
  SELECT c.* FROM deployment_checks c
    JOIN (SELECT environment, max(checked_at) AS checked_at FROM deployment_checks GROUP BY environment) newest
      ON newest.environment = c.environment AND newest.checked_at = c.checked_at`;

export interface DeploymentPeriod {
  environment: string;
  namespace: string;
  deployment: string;
  checks: number;
  /** Share of checks whose state was healthy. */
  healthyRatio: number;
  averageScore: number;
  minScore: number;
  minReadyRatio: number;
  maxRestarts: number;
  /** Mean and worst probe time, of the checks that probed. */
  averageResponseSeconds?: number;
  maxResponseSeconds?: number;
  probeFailures: number;
  lastState: string;
  lastCheckedAt: string;
}

export async function checksSince(pool: pg.Pool, since: string, environment?: string, until?: string): Promise<DeploymentPeriod[]> {
  const { rows } = await pool.query<{
    environment: string;
    namespace: string;
    deployment: string;
    checks: number;
    healthy: number;
    average_score: number;
    min_score: number;
    min_ready_ratio: number;
    max_restarts: number;
    average_response: number | null;
    max_response: number | null;
    probe_failures: number;
    last_state: string;
    last_checked_at: Date;
  }>(
    `SELECT environment, namespace, deployment, count(*)::int AS checks,
            count(*) FILTER (WHERE state = 'healthy')::int AS healthy,
            avg(score)::float8 AS average_score, min(score)::int AS min_score,
            min(CASE WHEN desired = 0 THEN 1 ELSE ready::float8 / desired END)::float8 AS min_ready_ratio,
            max(restarts)::int AS max_restarts,
            avg(response_seconds)::float8 AS average_response, max(response_seconds)::float8 AS max_response,
            count(probe_error)::int AS probe_failures,
            (array_agg(state ORDER BY checked_at DESC))[1] AS last_state, max(checked_at) AS last_checked_at
       FROM deployment_checks
      WHERE checked_at >= $1 AND ($2::text IS NULL OR environment = $2) AND ($3::timestamptz IS NULL OR checked_at < $3)
      GROUP BY environment, namespace, deployment
      ORDER BY environment, namespace, deployment`,
    [since, environment ?? null, until ?? null],
  );
  return rows.map((row) => ({
    environment: row.environment,
    namespace: row.namespace,
    deployment: row.deployment,
    checks: row.checks,
    healthyRatio: row.healthy / row.checks,
    averageScore: row.average_score,
    minScore: row.min_score,
    minReadyRatio: row.min_ready_ratio,
    maxRestarts: row.max_restarts,
    ...(row.average_response !== null ? { averageResponseSeconds: row.average_response } : {}),
    ...(row.max_response !== null ? { maxResponseSeconds: row.max_response } : {}),
    probeFailures: row.probe_failures,
    lastState: row.last_state,
    lastCheckedAt: row.last_checked_at.toISOString(),
  }));
}
