import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgPool } from '../../src/clients/postgres.js';
import { migrate } from '../../src/db/migrate.js';
import { MIGRATIONS } from '../../src/db/migrations.js';
import { dropDatabase, ensureDatabase } from '../../scripts/stack/postgres.js';
import { testStack } from '../support/stack.js';

describe('database migrations on a real PostgreSQL', () => {
  const name = `ops_migrate_${process.pid}_${Date.now().toString(36)}`;
  let pool: pg.Pool;

  beforeAll(async () => {
    pool = createPgPool(await ensureDatabase(testStack().adminDatabaseUrl, name));
  });
  afterAll(async () => {
    await pool.end();
    await dropDatabase(testStack().adminDatabaseUrl, name);
  });

  it('applies every migration once, even when several processes start together', async () => {
    const results = await Promise.all([migrate(pool), migrate(pool), migrate(pool)]);
    const applied = results.flatMap((result) => result.applied);
    expect(applied).toEqual(MIGRATIONS.map((migration) => `${migration.id}_${migration.name}`));
    const again = await migrate(pool);
    expect(again.applied).toEqual([]);
    const { rows } = await pool.query('SELECT id, name FROM schema_migrations ORDER BY id');
    expect(rows).toEqual(MIGRATIONS.map(({ id, name: migrationName }) => ({ id, name: migrationName })));
  });

  it('creates audit_events with a unique idempotency key and a checked outcome', async () => {
    await migrate(pool);
    const insert = (key: string, outcome: string) =>
      pool.query(
        `INSERT INTO audit_events (actor, action, target, outcome, idempotency_key) VALUES ('a', 'b', 'c', $1, $2)`,
        [outcome, key],
      );
    await insert('k1', 'succeeded');
    await expect(insert('k1', 'succeeded')).rejects.toThrow(/duplicate key/);
    await expect(insert('k2', 'maybe')).rejects.toThrow(/check constraint/);
  });

  it('rolls back a failing migration and names it', async () => {
    const broken = [...MIGRATIONS, { id: 9999, name: 'broken', sql: 'CREATE TABLE half_done (id int); SELECT no_such_function();' }];
    await expect(migrate(pool, broken)).rejects.toThrow(/migration 9999 \(broken\) failed: function no_such_function\(\) does not exist/);
    const { rowCount } = await pool.query(`SELECT 1 FROM pg_tables WHERE tablename = 'half_done'`);
    expect(rowCount).toBe(0);
  });
});
