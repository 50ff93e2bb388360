import type pg from 'pg';
import { MIGRATIONS, type Migration } from './migrations.js';

/** Arbitrary but fixed: serialises concurrent migrators (two workers starting at once). */
const MIGRATION_LOCK_KEY = 727_001;

export interface MigrationResult {
  applied: string[];
  current: number;
}

/**
 * Applies every migration not yet recorded in schema_migrations, in order,
 * each in its own transaction, under an advisory lock. Safe to call from every
 * process at start-up.
 */
export async function migrate(pool: pg.Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationResult> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        id         integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows } = await client.query<{ id: number }>('SELECT id FROM schema_migrations');
    const done = new Set(rows.map((row) => row.id));
    const applied: string[] = [];
    for (const migration of [...migrations].sort((a, b) => a.id - b.id)) {
      if (done.has(migration.id)) continue;
      try {
        await client.query('BEGIN');
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (id, name) VALUES ($1, $2)', [migration.id, migration.name]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${migration.id} (${migration.name}) failed: ${(error as Error).message}`, {
          cause: error,
        });
      }
      applied.push(`${migration.id}_${migration.name}`);
    }
    const current = Math.max(0, ...migrations.map((migration) => migration.id));
    return { applied, current };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    client.release();
  }
}
