import type pg from 'pg';
import type { Logger } from '../logging/logger.js';

/**
 * Refused deliveries, kept for operators ("why didn't my alert page?"): time,
 * route, status, reason, and the first KiB of the body, never auth headers.
 * The table is bounded to the newest MAX_ROWS rows.
 */
export const MAX_ROWS = 10_000;
const BODY_PREFIX_BYTES = 1024;

export interface Rejection {
  route: string;
  status: number;
  reason: string;
  body: string;
  remoteAddr?: string | undefined;
  userAgent?: string | undefined;
}

export function createRejectionRecorder(pool: pg.Pool | undefined, logger: Logger) {
  return async function recordRejection(rejection: Rejection): Promise<void> {
    logger.warn({ route: rejection.route, status: rejection.status, reason: rejection.reason }, 'delivery refused');
    if (!pool) return;
    try {
      const prefix = Buffer.from(rejection.body, 'utf8').subarray(0, BODY_PREFIX_BYTES).toString('utf8').replaceAll('\u0000', ''); // PostgreSQL text cannot hold NUL
      await pool.query(
        `INSERT INTO rejected_deliveries (route, status, reason, body_prefix, remote_addr, user_agent) VALUES ($1, $2, $3, $4, $5, $6)`,
        [rejection.route, rejection.status, rejection.reason.slice(0, 1000), prefix, rejection.remoteAddr ?? null, rejection.userAgent?.slice(0, 200) ?? null],
      );
      // An index range on the primary key: cheap enough to do on every refusal.
      await pool.query(`DELETE FROM rejected_deliveries WHERE id <= (SELECT max(id) FROM rejected_deliveries) - $1`, [MAX_ROWS]);
    } catch (error) {
      logger.warn({ err: error }, 'could not record a refused delivery');
    }
  };
}
