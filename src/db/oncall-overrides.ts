import type pg from 'pg';
import type { OnCallOverride } from '../domain/oncall.js';
import { writeAuditEvent } from './audit.js';

/**
 * Overrides made at run time (opsctl), in oncall_overrides. Every change is
 * audited; a removed override keeps its row (removed_by, removed_at), so the
 * history of who covered whom stays readable.
 */
export interface StoredOverride extends OnCallOverride {
  schedule: string;
  createdBy: string;
  createdAt: string;
}

interface OverrideRow {
  id: string;
  schedule: string;
  person: string;
  starts_at: Date;
  ends_at: Date;
  created_by: string;
  created_at: Date;
}

const toOverride = (row: OverrideRow): StoredOverride => ({
  id: String(row.id),
  schedule: row.schedule,
  person: row.person,
  startMs: row.starts_at.getTime(),
  endMs: row.ends_at.getTime(),
  createdBy: row.created_by,
  createdAt: row.created_at.toISOString(),
});

/** Overrides of a schedule that end after `endingAfterMs`, in the order they were added (later wins). */
export async function listOverrides(pool: pg.Pool, schedule: string, endingAfterMs = 0): Promise<StoredOverride[]> {
  const { rows } = await pool.query<OverrideRow>(
    `SELECT id, schedule, person, starts_at, ends_at, created_by, created_at FROM oncall_overrides
      WHERE schedule = $1 AND removed_at IS NULL AND ends_at > $2 ORDER BY id`,
    [schedule, new Date(endingAfterMs)],
  );
  return rows.map(toOverride);
}

export async function addOverride(
  pool: pg.Pool,
  input: { schedule: string; person: string; startMs: number; endMs: number; by: string },
): Promise<StoredOverride> {
  const { rows } = await pool.query<OverrideRow>(
    `INSERT INTO oncall_overrides (schedule, person, starts_at, ends_at, created_by) VALUES ($1, $2, $3, $4, $5)
     RETURNING id, schedule, person, starts_at, ends_at, created_by, created_at`,
    [input.schedule, input.person, new Date(input.startMs), new Date(input.endMs), input.by],
  );
  const stored = toOverride(rows[0]!);
  await writeAuditEvent(pool, {
    actor: input.by,
    action: 'oncall.override-add',
    target: `oncall/${input.schedule}`,
    outcome: 'succeeded',
    details: { id: stored.id, person: stored.person, start: new Date(stored.startMs).toISOString(), end: new Date(stored.endMs).toISOString() },
    idempotencyKey: `oncall-override:${stored.id}:add`,
  });
  return stored;
}

/** Removes an override; undefined when there is no such override (or it was removed already). */
export async function removeOverride(pool: pg.Pool, id: string, by: string): Promise<StoredOverride | undefined> {
  if (!/^\d+$/.test(id)) return undefined;
  const { rows } = await pool.query<OverrideRow>(
    `UPDATE oncall_overrides SET removed_by = $2, removed_at = now() WHERE id = $1 AND removed_at IS NULL
     RETURNING id, schedule, person, starts_at, ends_at, created_by, created_at`,
    [id, by],
  );
  const removed = rows[0] ? toOverride(rows[0]) : undefined;
  if (removed) {
    await writeAuditEvent(pool, {
      actor: by,
      action: 'oncall.override-remove',
      target: `oncall/${removed.schedule}`,
      outcome: 'succeeded',
      details: { id: removed.id, person: removed.person },
      idempotencyKey: `oncall-override:${removed.id}:remove`,
    });
  }
  return removed;
}
