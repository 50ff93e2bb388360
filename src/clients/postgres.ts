import pg from 'pg';

/** One pool per process; callers borrow connections and the pool is ended on shutdown. */
export function createPgPool(databaseUrl: string, applicationName = 'ops-automation'): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    application_name: applicationName,
    max: 10,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its server must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}
