/**
 * Which backups a retention policy keeps. Rules add up, the way restic's
 * and pgBackRest's do: a backup survives when any rule keeps it. With no rule
 * at all nothing is deleted, and the newest verified backup is always kept,
 * whatever the policy says, so a bad policy can never leave nothing to restore.
 */
export interface RetentionPolicy {
  /** Keep every backup finished within this many days. */
  keepDays?: number;
  /** Keep this many newest backups. */
  keepLast?: number;
  /** Grandfather-father-son: the newest backup of each of the last N days that have one (UTC). */
  daily?: number;
  /** The newest backup of each of the last N ISO weeks that have one. */
  weekly?: number;
  /** The newest backup of each of the last N calendar months that have one. */
  monthly?: number;
}

export interface RetainedBackup {
  id: string;
  finishedAt: Date;
  verified: boolean;
}

export interface RetentionDecision {
  /** Backup ID -> why it is kept ("keepLast", "daily 2026-11-23", "newest verified", ...). */
  keep: Map<string, string[]>;
  /** IDs to delete, newest first. */
  remove: string[];
}

export function hasRetentionRule(policy: RetentionPolicy): boolean {
  return [policy.keepDays, policy.keepLast, policy.daily, policy.weekly, policy.monthly].some((value) => value !== undefined);
}

/** ISO 8601 week, "2026-W48": weeks start on Monday, week 1 holds the year's first Thursday. */
export function isoWeek(at: Date): string {
  const day = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((day.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${day.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

const BUCKETS: { rule: 'daily' | 'weekly' | 'monthly'; bucket: (at: Date) => string }[] = [
  { rule: 'daily', bucket: (at) => at.toISOString().slice(0, 10) },
  { rule: 'weekly', bucket: isoWeek },
  { rule: 'monthly', bucket: (at) => at.toISOString().slice(0, 7) },
];

export function decideRetention(backups: readonly RetainedBackup[], policy: RetentionPolicy, now: Date): RetentionDecision {
  const newestFirst = [...backups].sort((a, b) => b.finishedAt.getTime() - a.finishedAt.getTime());
  const keep = new Map<string, string[]>();
  const because = (id: string, reason: string) => keep.set(id, [...(keep.get(id) ?? []), reason]);

  if (!hasRetentionRule(policy)) {
    for (const backup of newestFirst) because(backup.id, 'no retention rule');
    return { keep, remove: [] };
  }
  const newestVerified = newestFirst.find((backup) => backup.verified);
  if (newestVerified) because(newestVerified.id, 'newest verified');
  newestFirst.slice(0, policy.keepLast ?? 0).forEach((backup) => because(backup.id, 'keepLast'));
  if (policy.keepDays !== undefined) {
    const cutoff = now.getTime() - policy.keepDays * 86_400_000;
    for (const backup of newestFirst) if (backup.finishedAt.getTime() >= cutoff) because(backup.id, 'keepDays');
  }
  for (const { rule, bucket } of BUCKETS) {
    const limit = policy[rule] ?? 0;
    const seen = new Set<string>();
    for (const backup of newestFirst) {
      if (seen.size >= limit) break;
      const name = bucket(backup.finishedAt);
      if (seen.has(name)) continue;
      seen.add(name);
      because(backup.id, `${rule} ${name}`);
    }
  }
  return { keep, remove: newestFirst.filter((backup) => !keep.has(backup.id)).map((backup) => backup.id) };
}
