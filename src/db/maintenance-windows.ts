import type pg from 'pg';
import { maintenanceWindowSchema } from '../config/policy-incidents.js';
import type { MaintenanceWindow } from '../domain/muting.js';

/**
 * Maintenance windows made at run time (opsctl), stored in
 * maintenance_windows and read back through the policy file's own schema, so
 * both kinds of window mean exactly the same thing.
 */
export interface StoredWindow {
  window: MaintenanceWindow;
  /** The matchers as written, for display. */
  matchers: string[];
  createdBy: string;
}

interface WindowRow {
  name: string;
  matchers: string[];
  time_zone: string;
  starts_at: Date | null;
  ends_at: Date | null;
  weekly: unknown;
  cron: string | null;
  duration_ms: string | null;
  created_by: string;
}

/** Stored windows, skipping rows that no longer validate; `current` leaves out one-off windows already over. */
export async function storedMaintenanceWindows(pool: pg.Pool, options: { current: boolean }): Promise<StoredWindow[]> {
  const { rows } = await pool.query<WindowRow>(
    `SELECT name, matchers, time_zone, starts_at, ends_at, weekly, cron, duration_ms, created_by
       FROM maintenance_windows ${options.current ? 'WHERE ends_at IS NULL OR ends_at > now()' : ''} ORDER BY name`,
  );
  return rows.flatMap((row) => {
    const parsed = maintenanceWindowSchema.safeParse({
      name: row.name,
      matchers: row.matchers,
      timeZone: row.time_zone,
      ...(row.cron ? { cron: row.cron, duration: Number(row.duration_ms) } : {}),
      ...(row.weekly ? { weekly: row.weekly } : {}),
      ...(row.starts_at && !row.cron && !row.weekly ? { start: row.starts_at.toISOString(), end: row.ends_at?.toISOString() } : {}),
    });
    return parsed.success ? [{ window: parsed.data, matchers: row.matchers, createdBy: row.created_by }] : [];
  });
}
