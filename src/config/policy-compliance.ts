import { z } from 'zod';
import { duration } from './policy-incidents.js';

/**
 * The policy file's `compliance` section: where the monthly compliance report
 * goes (a bucket with S3 Object Lock, so a report cannot be altered or deleted
 * while retained), who receives it, and the targets its controls are judged
 * against.
 */
const EVERY_KEY_DEFAULTED = {} as never;

export const compliancePolicySection = {
  compliance: z
    .object({
      /** The Object Lock bucket; default "<S3_BUCKET>-compliance", made with object locking when missing. */
      bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name').optional(),
      prefix: z.string().min(1).default('compliance'),
      /** How long each report is locked; COMPLIANCE mode: nobody, root included, can shorten it. */
      retention: duration('2555d'),
      mode: z.enum(['COMPLIANCE', 'GOVERNANCE']).default('COMPLIANCE'),
      recipients: z.array(z.email()).default([]),
      /** A database passes when no two backups (and neither end of the month) are further apart than this. */
      backupMaxGap: duration('26h'),
      /** Time to acknowledge, per incident severity. */
      responseTargets: z
        .object({ critical: duration('15m'), high: duration('1h'), medium: duration('4h'), low: duration('24h') })
        .strict()
        .prefault(EVERY_KEY_DEFAULTED),
    })
    .strict()
    .prefault(EVERY_KEY_DEFAULTED),
};

export type CompliancePolicy = z.infer<(typeof compliancePolicySection)['compliance']>;
