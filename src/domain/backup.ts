import type { BackupEncryption } from './backup-encryption.js';

/**
 * Backup naming: one workflow ID per database, so Temporal itself refuses a
 * second backup of the same database while one runs; object keys sort by time.
 */
/** What a backup wrote beside its dump (`<key>.manifest.json`): what the restore checks it against. */
export interface BackupManifest {
  database: string;
  bucket: string;
  key: string;
  bytes: number;
  sha256: string;
  serverVersion: string;
  startedAt: string;
  finishedAt: string;
  /** Row count of every table, taken in the very snapshot pg_dump dumped. */
  tables: Record<string, number>;
  /** The multipart part size the dump was uploaded with (absent in manifests written before it was chosen per dump). */
  partSize?: number;
  /** Present when the object is encrypted: `bytes` and `sha256` are then the stored (encrypted) object's, `plainBytes` the dump's. */
  encryption?: BackupEncryption;
  plainBytes?: number;
}

/**
 * `backups/<database>/2026-11-23T02-00-00Z-<run>.dump`: sorts by time, is
 * safe in any S3 tool, and two backups in the same second never share a key.
 */
export function backupObjectKey(prefix: string, database: string, at: Date, runId: string): string {
  const stamp = at.toISOString().replace(/\.\d{3}Z$/, 'Z').replaceAll(':', '-');
  // The end of the run ID: run IDs are UUIDv7, whose first digits are a timestamp too.
  return `${prefix.replace(/\/+$/, '')}/${database}/${stamp}-${runId.replaceAll('-', '').slice(-8)}.dump`;
}

/** The incident a failed backup raises, and the next good one resolves. */
export function backupFailedDedupKey(database: string): string {
  return `backup-failed-${database}`;
}

/** The incident a failed restore drill raises (the newest backup cannot be restored), and the next good drill resolves. */
export function restoreDrillFailedDedupKey(database: string): string {
  return `restore-drill-failed-${database}`;
}

/**
 * Why `name` is not an S3 bucket name (S3's general-purpose bucket rules), or
 * undefined when it is one: refused before any request, with the rule it breaks.
 */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return `bucket name "${name}" must be 3 to 63 characters long`;
  if (!/^[a-z0-9.-]+$/.test(name)) return `bucket name "${name}" may hold only lower-case letters, digits, "." and "-"`;
  if (!/^[a-z0-9].*[a-z0-9]$/.test(name)) return `bucket name "${name}" must begin and end with a letter or digit`;
  if (name.includes('..')) return `bucket name "${name}" must not hold two dots in a row`;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return `bucket name "${name}" must not look like an IP address`;
  return undefined;
}
