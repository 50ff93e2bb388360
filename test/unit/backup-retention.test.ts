import { describe, expect, it } from 'vitest';
import { decideRetention, isoWeek, type RetainedBackup } from '../../src/domain/backup-retention.js';

/** One backup a day at 02:00 UTC, newest first, for `days` days before 2026-11-23. */
function nightly(days: number, verified: (index: number) => boolean = () => false): RetainedBackup[] {
  return Array.from({ length: days }, (_, index) => ({
    id: `b${index}`,
    finishedAt: new Date(Date.UTC(2026, 10, 23 - index, 2)),
    verified: verified(index),
  }));
}
const now = new Date('2026-11-23T12:00:00Z');
const day = (id: string, backups: RetainedBackup[]) => backups.find((backup) => backup.id === id)!.finishedAt.toISOString().slice(0, 10);

describe('backup retention', () => {
  it('names ISO weeks the way ISO 8601 does, across year ends', () => {
    expect(isoWeek(new Date('2026-11-23T00:00:00Z'))).toBe('2026-W48'); // a Monday
    expect(isoWeek(new Date('2026-11-22T23:59:59Z'))).toBe('2026-W47'); // the Sunday before
    expect(isoWeek(new Date('2027-01-01T00:00:00Z'))).toBe('2026-W53'); // a Friday in 2026's last week
    expect(isoWeek(new Date('2024-12-30T00:00:00Z'))).toBe('2025-W01'); // a Monday in 2025's first week
  });

  it('deletes nothing when no rule is set', () => {
    expect(decideRetention(nightly(40), {}, now).remove).toEqual([]);
  });

  it('keeps the newest keepLast, and those within keepDays: rules add up', () => {
    const backups = nightly(20);
    expect(decideRetention(backups, { keepLast: 3 }, now).remove).toHaveLength(17);
    const both = decideRetention(backups, { keepLast: 3, keepDays: 7 }, now);
    // 2026-11-16T02:00 is 7 days and 10 hours old: outside keepDays.
    expect([...both.keep.keys()]).toEqual(['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6']);
    expect(both.keep.get('b0')).toEqual(['keepLast', 'keepDays']);
  });

  it('keeps grandfather-father-son: the newest of each of the last N days, ISO weeks and months', () => {
    const backups = nightly(120);
    const decision = decideRetention(backups, { daily: 7, weekly: 4, monthly: 3 }, now);
    const kept = [...decision.keep.keys()].map((id) => day(id, backups));
    expect(kept).toEqual([
      '2026-11-23', '2026-11-22', '2026-11-21', '2026-11-20', '2026-11-19', '2026-11-18', '2026-11-17',
      // weekly: 2026-W48 and W47 are already kept by daily; W46 ends Sunday 11-15, W45 on 11-08
      '2026-11-15', '2026-11-08',
      // monthly: November is already kept; October's and September's newest
      '2026-10-31', '2026-09-30',
    ]);
    expect(decision.keep.get('b0')).toEqual(['daily 2026-11-23', 'weekly 2026-W48', 'monthly 2026-11']);
    expect(decision.keep.get(backups.find((b) => day(b.id, backups) === '2026-11-15')!.id)).toEqual(['weekly 2026-W46']);
    expect(decision.remove).toHaveLength(120 - 11);
  });

  it('counts days that have backups, not calendar days, like restic', () => {
    const sparse = nightly(30).filter((_, index) => index % 3 === 0);
    const decision = decideRetention(sparse, { daily: 4 }, now);
    expect([...decision.keep.keys()].map((id) => day(id, sparse))).toEqual(['2026-11-23', '2026-11-20', '2026-11-17', '2026-11-14']);
  });

  it('never deletes the newest verified backup, whatever the policy says', () => {
    const backups = nightly(10, (index) => index === 6 || index === 8);
    const decision = decideRetention(backups, { keepLast: 2 }, now);
    expect([...decision.keep.keys()]).toEqual(['b6', 'b0', 'b1']);
    expect(decision.keep.get('b6')).toEqual(['newest verified']);
    expect(decision.remove).toEqual(['b2', 'b3', 'b4', 'b5', 'b7', 'b8', 'b9']);
  });
});
