import { z } from 'zod';
import { isAgeRecipient } from './age-keys.js';
import { bucketNameProblem } from '../domain/backup.js';
import { duration } from './policy-incidents.js';

/**
 * The policy file's database sections: named connections, backup defaults
 * and database maintenance. Connection secrets stay in the environment: a
 * database names the variable that holds its URL (`urlFromEnv`), or gives a
 * URL without a password.
 */

const databaseName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'expected lower-case letters, digits, "-" or "_" (it names workflow IDs and S3 keys)');

const connection = z
  .object({
    url: z
      .string()
      .refine((text) => /^postgres(ql)?:\/\//.test(text), 'expected a postgres:// URL')
      .refine((text) => !URL.canParse(text) || new URL(text).password === '', 'a password does not belong in the policy file: use urlFromEnv')
      .optional(),
    urlFromEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name').optional(),
  })
  .strict()
  .refine((value) => (value.url === undefined) !== (value.urlFromEnv === undefined), 'give exactly one of url or urlFromEnv');

const count = z.number().int().min(1);

/** An age recipient (public key, `age1...`), checked as age itself would read it. */
const ageRecipient = z.string().superRefine((text, context) => {
  if (!isAgeRecipient(text)) context.addIssue({ code: 'custom', message: `"${text}" is not an age recipient: expected a public key as age-keygen prints it (age1..., its checksum intact)` });
});

export const retentionPolicySchema = z
  .object({
    keepDays: count.optional(),
    keepLast: count.optional(),
    daily: count.optional(),
    weekly: count.optional(),
    monthly: count.optional(),
  })
  .strict();

/** A table as written in the policy: "name" (schema public) or "schema.name". */
const tableName = z.string().min(1).max(200);

const DAY_MS = 86_400_000;
const retentionRuleKinds = { metrics: 90 * DAY_MS, 'deployment-logs': 30 * DAY_MS, audit: 365 * DAY_MS } as const;

const retentionRule = z
  .object({
    database: databaseName.default('default'),
    table: tableName,
    /** The timestamp column rows age by. */
    column: z.string().min(1).max(63),
    /** What the table holds; sets the default maximum age (metrics 90d, deployment-logs 30d, audit 365d). */
    kind: z.enum(Object.keys(retentionRuleKinds) as [keyof typeof retentionRuleKinds]).optional(),
    maxAge: duration().optional(),
    batchSize: z.number().int().min(1).max(100_000).default(5000),
  })
  .strict()
  .transform((rule, context) => {
    const maxAge = rule.maxAge ?? (rule.kind ? retentionRuleKinds[rule.kind] : undefined);
    if (maxAge === undefined) {
      context.addIssue({ code: 'custom', message: 'give maxAge, or a kind (metrics, deployment-logs, audit) for its default' });
      return z.NEVER;
    }
    return { database: rule.database, table: rule.table, column: rule.column, maxAgeMs: maxAge, batchSize: rule.batchSize };
  });

export type RetentionRule = z.infer<typeof retentionRule>;

const tableList = z.union([z.literal('all'), z.array(tableName)]);

const maintenanceTargets = z
  .object({
    /** VACUUM (ANALYZE) these tables; "all" is every user table. */
    vacuum: tableList.default('all'),
    /** REINDEX these tables; by default the tables retention deleted from. */
    reindex: tableList.optional(),
  })
  .strict();

export const databasePolicySections = {
  databases: z.record(databaseName, connection).default({}),
  backups: z
    .object({
      /** The bucket backups go to; default S3_BUCKET. */
      bucket: z
        .string()
        .superRefine((name, context) => {
          const problem = bucketNameProblem(name);
          if (problem) context.addIssue({ code: 'custom', message: problem });
        })
        .optional(),
      prefix: z.string().min(1).default('backups'),
      retention: retentionPolicySchema.default({ keepDays: 14, keepLast: 7 }),
      verify: z.boolean().default(true),
      /**
       * Continuous WAL archiving for point-in-time recovery: the databases whose WAL is streamed
       * to S3 from a physical replication slot, and how often a WAL switch closes the segment being
       * written when WAL was written (what bounds how much a crash of the server can lose).
       */
      walArchive: z
        .object({
          databases: z.array(databaseName).default([]),
          slot: z.string().regex(/^[a-z0-9_]{1,63}$/, 'expected a replication slot name: lower-case letters, digits and "_"').default('ops_wal_archive'),
          switchInterval: duration('30s'),
        })
        .strict()
        .optional(),
      /** Client-side encryption of every object a backup writes, to these age recipients; restores need OPS_BACKUP_AGE_IDENTITY. */
      encryption: z
        .object({ recipients: z.array(ageRecipient).min(1, 'expected at least one age recipient (age1...)') })
        .strict()
        .optional(),
    })
    .strict()
    .default({ prefix: 'backups', retention: { keepDays: 14, keepLast: 7 }, verify: true }),
  maintenance: z
    .object({
      retention: z.array(retentionRule).default([{ database: 'default', table: 'audit_events', column: 'occurred_at', maxAgeMs: 365 * DAY_MS, batchSize: 5000 }]),
      databases: z.record(databaseName, maintenanceTargets).default({}),
      /** Client connections idle longer than this are terminated (never ours). */
      idleConnectionTimeout: duration('1h'),
      thresholds: z
        .object({
          /** Connections in use over max_connections above this ratio raise an incident. */
          connectionUsage: z.number().gt(0).max(1).default(0.8),
          /** More AccessExclusiveLock holders than this raise an incident. */
          exclusiveLocks: z.number().int().min(0).default(3),
          /** More lock requests waiting than this raise an incident. */
          waitingLocks: z.number().int().min(0).default(5),
        })
        .strict()
        .default({ connectionUsage: 0.8, exclusiveLocks: 3, waitingLocks: 5 }),
    })
    .strict()
    .default({
      retention: [{ database: 'default', table: 'audit_events', column: 'occurred_at', maxAgeMs: 365 * DAY_MS, batchSize: 5000 }],
      databases: {},
      idleConnectionTimeout: 3_600_000,
      thresholds: { connectionUsage: 0.8, exclusiveLocks: 3, waitingLocks: 5 },
    }),
};

/**
 * Resolves a named database to its connection URL: "default" is DATABASE_URL,
 * others come from the policy. Read when needed, so no URL with a password is
 * kept in workflow state.
 */
export function databaseUrlResolver(
  databases: Record<string, { url?: string | undefined; urlFromEnv?: string | undefined }>,
  defaultUrl: string | undefined,
  environment: NodeJS.ProcessEnv = process.env,
): (name: string) => string | undefined {
  return (name) => {
    if (name === 'default' && !databases.default) return defaultUrl;
    const entry = databases[name];
    if (!entry) return undefined;
    return entry.url ?? (entry.urlFromEnv ? environment[entry.urlFromEnv] : undefined);
  };
}
