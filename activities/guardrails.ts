import { Context } from '@temporalio/activity';
import type pg from 'pg';
import { formatDuration } from '../src/domain/durations.js';
import type { Guardrail } from '../src/domain/remediation.js';

/**
 * Guardrails held in PostgreSQL, so they count across incidents, workflows
 * and restarts: at most `maxActions` per target within the window, and at
 * least `cooldown` between two. Checking and reserving happen in one
 * transaction under an advisory lock on the guard key, so two incidents
 * racing for the same target cannot both pass a limit of one.
 */
export interface GuardrailDeps {
  pool: pg.Pool;
}

/** A refusal says why, and whether the limit (not just the cooldown) is used up. */
export type GuardDecision = { granted: true } | { granted: false; reason: string; exhausted: boolean };


export function createGuardrailActivities(deps: GuardrailDeps) {
  return {
    /**
     * Reserves one action on `guardKey` when the guardrail allows it. The
     * reservation's idempotency key (workflow + step) makes a retried call
     * find its own reservation. `dryRun` answers without reserving.
     */
    async reserveAction(input: { guardKey: string; guardrail: Guardrail; step: string; dryRun?: boolean; details?: Record<string, unknown> }): Promise<GuardDecision> {
      const execution = Context.current().info.workflowExecution ?? { workflowId: 'standalone', runId: '' };
      const idempotencyKey = `${execution.workflowId}:${execution.runId}:${input.step}`;
      const client = await deps.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 7))', [input.guardKey]);
        const mine = await client.query('SELECT 1 FROM remediation_actions WHERE idempotency_key = $1', [idempotencyKey]);
        if (mine.rowCount) {
          await client.query('COMMIT');
          return { granted: true };
        }
        const { windowMs, maxActions, cooldownMs } = input.guardrail;
        const recent = await client.query<{ count: string; last_ms_ago: string | null }>(
          `SELECT count(*) FILTER (WHERE taken_at > now() - make_interval(secs => $2::double precision / 1000)) AS count,
                  (extract(epoch FROM now() - max(taken_at)) * 1000)::bigint AS last_ms_ago
             FROM remediation_actions WHERE guard_key = $1`,
          [input.guardKey, windowMs],
        );
        const count = Number(recent.rows[0]!.count);
        const lastMsAgo = recent.rows[0]!.last_ms_ago === null ? undefined : Number(recent.rows[0]!.last_ms_ago);
        let refusal: string | undefined;
        if (count >= maxActions) refusal = `guardrail: ${count} of at most ${maxActions} actions on this target in the last ${formatDuration(windowMs)}`;
        else if (cooldownMs > 0 && lastMsAgo !== undefined && lastMsAgo < cooldownMs) {
          refusal = `guardrail: cooldown of ${formatDuration(cooldownMs)}, the last action on this target was ${formatDuration(lastMsAgo)} ago`;
        }
        if (!refusal && !input.dryRun) {
          await client.query(
            `INSERT INTO remediation_actions (guard_key, workflow_id, run_id, idempotency_key, details) VALUES ($1, $2, $3, $4, $5)`,
            [input.guardKey, execution.workflowId, execution.runId, idempotencyKey, JSON.stringify(input.details ?? {})],
          );
        }
        await client.query('COMMIT');
        return refusal ? { granted: false, reason: refusal, exhausted: count >= maxActions } : { granted: true };
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
  };
}
