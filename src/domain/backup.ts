/**
 * Backup naming: one workflow ID per database, so Temporal itself refuses a
 * second backup of the same database while one runs; object keys sort by time.
 */
export function backupWorkflowId(database: string): string {
  return `backup-${database}`;
}

/** `backups/<database>/2026-11-23T02-00-00Z.dump`: sortable, and safe in any S3 tool. */
export function backupObjectKey(prefix: string, database: string, at: Date): string {
  const stamp = at.toISOString().replace(/\.\d{3}Z$/, 'Z').replaceAll(':', '-');
  return `${prefix.replace(/\/+$/, '')}/${database}/${stamp}.dump`;
}
