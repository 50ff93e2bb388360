/**
 * Restore-into-a-target rules: which database names a restore accepts, and
 * the names of the databases it makes on the way. PostgreSQL cuts identifiers
 * at 63 bytes, so every name made here fits in 63.
 */

const MAX_IDENTIFIER = 63;
const SYSTEM_DATABASES = new Set(['postgres', 'template0', 'template1']);

/** Why `name` cannot be restored into, or undefined when it can. */
export function restoreTargetProblem(name: string): string | undefined {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) return `"${name}" is not a database name a restore takes: 1 to 63 lower-case letters, digits and "_", not starting with a digit`;
  if (SYSTEM_DATABASES.has(name)) return `"${name}" is a system database: restore into another`;
  return undefined;
}

/** The database a run restores into before it takes the target's name; one per run, so a retry finds its own. */
export function stagingDatabaseName(runId: string): string {
  return `ops_restoring_${runId.replaceAll('-', '').slice(-12)}`;
}

/** Where the database a restore replaces is kept: `<into>_before_restore_<UTC stamp>`, the name cut to fit. */
export function asideDatabaseName(into: string, at: Date): string {
  const stamp = at.toISOString().replace(/\.\d{3}Z$/, '').replaceAll('-', '').replaceAll(':', '');
  const suffix = `_before_restore_${stamp.toLowerCase()}`;
  return `${into.slice(0, MAX_IDENTIFIER - suffix.length)}${suffix}`;
}

/** The incident a failed restore into `into` raises; the next good restore into it resolves it. */
export function restoreFailedDedupKey(into: string): string {
  return `restore-failed-${into}`;
}
