import { defineQuery, defineSignal } from '@temporalio/workflow';

/**
 * The backup workflow's messages, apart from the workflow so the dump
 * activity (which reports its bytes) and clients (opsctl's progress bar) can
 * import them without the workflow's code.
 */

export interface BackupProgress {
  database: string;
  phase: 'dumping' | 'verifying' | 'retention' | 'succeeded' | 'failed';
  /** The bucket the dump goes to (absent: S3_BUCKET, in runs recorded before it was chosen per backup). */
  bucket?: string;
  key: string;
  startedAt: string;
  /** Bytes of dump uploaded so far (live while dumping), then the dump's size. */
  bytes?: number;
  /** Upload rate over the dump so far. */
  bytesPerSecond?: number;
  /** The attempt of the dump activity the live figures come from. */
  attempt?: number;
  sha256?: string;
  verification?: { tables: number; rows: number };
  error?: string;
}

/** Dump activity -> workflow: bytes so far, a few times a minute. */
export const dumpProgressSignal = defineSignal<[{ bytes: number; bytesPerSecond: number; attempt: number }]>('dumpProgress');

export const progressQuery = defineQuery<BackupProgress>('progress');
