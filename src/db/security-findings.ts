import type pg from 'pg';
import type { Vulnerability } from '../domain/rollout.js';

/**
 * Open vulnerabilities per workload and image (security_findings): what the
 * image scan or a rollout last saw running. Recording what a workload runs now
 * resolves whatever it no longer runs (another image, or a fix in place).
 */
export interface RecordedFindings {
  /** Images of this workload whose findings this call resolved, with how many. */
  resolvedImages: Array<{ image: string; findings: number }>;
  /** The findings open now for the image it runs, oldest first. */
  open: OpenFinding[];
}

export interface OpenFinding {
  workload: string;
  image: string;
  vulnerability: string;
  package: string;
  severity: string;
  firstSeenAt: string;
  lastSeenAt: string;
  incident?: string;
}

export async function recordFindings(
  pool: pg.Pool,
  input: { workload: string; image: string; vulnerabilities: Vulnerability[]; incident?: string; by: string },
): Promise<RecordedFindings> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // One writer per workload at a time (the daily scan and a rollout may meet).
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('security_findings:' || $1))`, [input.workload]);
    const seen = new Map(input.vulnerabilities.map((vulnerability) => [`${vulnerability.id}|${vulnerability.package}`, vulnerability]));
    for (const vulnerability of seen.values()) {
      await client.query(
        `INSERT INTO security_findings (workload, image, vulnerability, package, severity, first_seen_at, last_seen_at, incident)
         VALUES ($1, $2, $3, $4, $5,
                 coalesce((SELECT min(first_seen_at) FROM security_findings WHERE workload = $1 AND vulnerability = $3 AND package = $4), now()),
                 now(), $6)
         ON CONFLICT (workload, image, vulnerability, package)
         DO UPDATE SET severity = EXCLUDED.severity, last_seen_at = now(), resolved_at = NULL, resolved_by = NULL,
                       incident = coalesce(EXCLUDED.incident, security_findings.incident)`,
        [input.workload, input.image, vulnerability.id, vulnerability.package, vulnerability.severity, input.incident ?? null],
      );
    }
    const resolved = await client.query<{ image: string; findings: number }>(
      `WITH gone AS (
         UPDATE security_findings SET resolved_at = now(), resolved_by = $3
          WHERE workload = $1 AND resolved_at IS NULL
            AND NOT (image = $2 AND (vulnerability || '|' || package) = ANY($4::text[]))
         RETURNING image)
       SELECT image, count(*)::int AS findings FROM gone GROUP BY image ORDER BY image`,
      [input.workload, input.image, input.by, [...seen.keys()]],
    );
    const open = await client.query<OpenRow>(`${OPEN_SELECT} WHERE resolved_at IS NULL AND workload = $1 ORDER BY first_seen_at, vulnerability`, [input.workload]);
    await client.query('COMMIT');
    return { resolvedImages: resolved.rows, open: open.rows.map(openFinding) };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Every open finding, most severe first, then oldest first (the reports' order). */
export async function listOpenFindings(pool: pg.Pool, at?: string): Promise<OpenFinding[]> {
  const { rows } = await pool.query<OpenRow>(
    `${OPEN_SELECT}
      WHERE first_seen_at < $1 AND (resolved_at IS NULL OR resolved_at >= $1)
      ORDER BY array_position(ARRAY['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'], severity), first_seen_at, workload, vulnerability`,
    [at ?? new Date().toISOString()],
  );
  return rows.map(openFinding);
}

interface OpenRow {
  workload: string;
  image: string;
  vulnerability: string;
  package: string;
  severity: string;
  first_seen_at: Date;
  last_seen_at: Date;
  incident: string | null;
}

const OPEN_SELECT = `SELECT workload, image, vulnerability, package, severity, first_seen_at, last_seen_at, incident FROM security_findings`;

function openFinding(row: OpenRow): OpenFinding {
  return {
    workload: row.workload,
    image: row.image,
    vulnerability: row.vulnerability,
    package: row.package,
    severity: row.severity,
    firstSeenAt: row.first_seen_at.toISOString(),
    lastSeenAt: row.last_seen_at.toISOString(),
    ...(row.incident ? { incident: row.incident } : {}),
  };
}
