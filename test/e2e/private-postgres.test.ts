import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPgPool } from '../../src/clients/postgres.js';
import { migrate } from '../../src/db/migrate.js';
import { ensureDatabase, resolvePostgres } from '../../scripts/stack/postgres.js';
import { testStack } from '../support/stack.js';

/**
 * On a machine where no PostgreSQL answers, the stack makes a private cluster
 * with initdb under .ops and runs it on a free port (as the postgres user when
 * run as root, which PostgreSQL refuses to run as); a second start reuses it.
 */
describe('a private PostgreSQL cluster', () => {
  it('is made, migrated, stopped and started again on the same data', async () => {
    const dir = join(testStack().runDir, 'private-pg');
    const options = { privateDir: dir, logFile: join(dir, '..', 'private-pg.log'), localUrl: 'postgres://postgres@127.0.0.1:1/postgres' };
    const first = await resolvePostgres(options);
    expect(first.source).toBe('private-cluster');
    const url = await ensureDatabase(first.adminUrl, 'ops_private');
    const pool = createPgPool(url);
    expect((await migrate(pool)).applied.length).toBeGreaterThan(0);
    await pool.end();
    await first.process!.stop();

    const second = await resolvePostgres(options);
    try {
      expect(second.adminUrl).toBe(first.adminUrl);
      const again = createPgPool(await ensureDatabase(second.adminUrl, 'ops_private'));
      expect((await migrate(again)).applied).toEqual([]);
      await again.end();
    } finally {
      await second.process!.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('runs from a folder the postgres user cannot enter, as root from a clone under /root or a mktemp folder', async () => {
    // mkdtemp makes a 0700 folder: as root, postgres can reach nothing below it.
    const outer = mkdtempSync(join(tmpdir(), 'ops-locked-'));
    expect(statSync(outer).mode & 0o777).toBe(0o700);
    const dir = join(outer, 'checkout', '.ops', 'pg');
    const started = await resolvePostgres({ privateDir: dir, logFile: join(outer, 'pg.log'), localUrl: 'postgres://postgres@127.0.0.1:1/postgres' });
    const location = process.getuid?.() === 0 ? readFileSync(join(dir, 'location'), 'utf8').trim() : dir;
    try {
      expect(started.source).toBe('private-cluster');
      const pool = createPgPool(await ensureDatabase(started.adminUrl, 'ops_locked'));
      expect((await migrate(pool)).applied.length).toBeGreaterThan(0);
      await pool.end();
    } finally {
      await started.process!.stop();
      rmSync(outer, { recursive: true, force: true });
      rmSync(location, { recursive: true, force: true });
    }
  }, 120_000);
});
