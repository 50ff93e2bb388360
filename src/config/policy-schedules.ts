import { z } from 'zod';
import { parseCron } from '../domain/cron.js';
import { parseDuration } from '../domain/durations.js';
import { isValidTimeZone } from '../domain/time-zones.js';

/**
 * The policy file's `schedules` section: when the recurring work runs. Each
 * entry is a five-field cron expression in `timeZone` ("0 2 * * *") or an
 * interval ("every 5m"), or `off` to have no schedule.
 */
const when = (fallback: string) =>
  z
    .string()
    .refine(
      (text) => {
        const trimmed = text.trim();
        if (trimmed === 'off') return true;
        if (trimmed.startsWith('every ')) return (parseDuration(trimmed.slice(6)) ?? 0) >= 1000;
        return typeof parseCron(trimmed) !== 'string';
      },
      { message: 'expected a cron expression ("0 2 * * *"), "every <duration>" of at least 1s, or "off"' },
    )
    .default(fallback);

export const schedulePolicySection = {
  schedules: z
    .object({
      timeZone: z.string().refine(isValidTimeZone, { message: 'unknown time zone (expected an IANA name such as Europe/Berlin or UTC)' }).default('UTC'),
      /** Nightly backup of every configured database. */
      backup: when('0 2 * * *'),
      /** Nightly base backup of every database in backups.walArchive.databases (point-in-time recovery starts from one). */
      baseBackup: when('30 1 * * *'),
      /** Weekly restore drill of every database's newest backup. */
      restoreDrill: when('0 5 * * sat'),
      /** Weekly maintenance of every database. */
      maintenance: when('0 3 * * sun'),
      /** The daily report (the previous UTC day) and the weekly one (the previous Monday to Sunday). */
      dailyReport: when('0 8 * * *'),
      weeklyReport: when('0 8 * * mon'),
      /** The scan of running images in `rollouts.scan.workloads` (none listed: no schedule). */
      imageScan: when('0 6 * * *'),
      /** The health check of the workloads in `healthCheck.targets` (none listed: no schedule). */
      healthCheck: when('every 5m'),
      /** The check of the TLS endpoints in `certificates.endpoints` (none listed: no schedule). */
      certificateCheck: when('0 7 * * *'),
      /** The compliance report of the previous month. */
      complianceReport: when('0 6 1 * *'),
    })
    .strict()
    .default({ timeZone: 'UTC', backup: '0 2 * * *', baseBackup: '30 1 * * *', restoreDrill: '0 5 * * sat', maintenance: '0 3 * * sun', dailyReport: '0 8 * * *', weeklyReport: '0 8 * * mon', imageScan: '0 6 * * *', healthCheck: 'every 5m', certificateCheck: '0 7 * * *', complianceReport: '0 6 1 * *' }),
};
