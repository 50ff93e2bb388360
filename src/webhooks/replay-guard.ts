import type pg from 'pg';

/**
 * A signed request is acted on once: its signature is remembered (in
 * PostgreSQL, shared by every webhook server; in memory while the database
 * does not answer) for longer than the signature's own validity window, and
 * a second delivery of the same signed bytes is refused.
 */
const REMEMBER_MS = 10 * 60_000;

export interface ReplayGuard {
  /** True the first time this signature is seen. */
  firstSighting(source: string, signature: string): Promise<boolean>;
  /** Forgets a sighting whose request could not be acted on, so its sender's retry is accepted. */
  forget(source: string, signature: string): Promise<void>;
}

export function createReplayGuard(pool: pg.Pool | undefined): ReplayGuard {
  const memory = new Map<string, number>();
  let inserts = 0;

  const inMemory = (key: string): boolean => {
    const now = Date.now();
    for (const [seen, at] of memory) if (now - at > REMEMBER_MS) memory.delete(seen);
    if (memory.has(key)) return false;
    memory.set(key, now);
    return true;
  };

  return {
    async firstSighting(source, signature) {
      const key = `${source}:${signature}`;
      // Seen by this process already (also while the database was down): a replay.
      if (!inMemory(key)) return false;
      if (!pool) return true;
      try {
        const { rowCount } = await pool.query(
          'INSERT INTO signed_requests_seen (source, signature) VALUES ($1, $2) ON CONFLICT DO NOTHING',
          [source, signature],
        );
        inserts += 1;
        if (inserts % 100 === 0) await pool.query(`DELETE FROM signed_requests_seen WHERE seen_at < now() - interval '10 minutes'`);
        return rowCount === 1;
      } catch {
        return true; // The database is down: this process's memory decides.
      }
    },
    async forget(source, signature) {
      memory.delete(`${source}:${signature}`);
      await pool?.query('DELETE FROM signed_requests_seen WHERE source = $1 AND signature = $2', [source, signature]).catch(() => undefined);
    },
  };
}
