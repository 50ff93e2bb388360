import { describe, expect, it } from 'vitest';
import { postgresTimestamp } from '../../activities/point-in-time-restore.js';
import { baseBackupObjectKey, formatLsn, isTimelineHistory, isWalSegment, parseLsn, segmentEndLsn, segmentName, walFileOfKey, walObjectKey } from '../../src/domain/pitr.js';
import { asideDatabaseName, restoreTargetProblem, stagingDatabaseName } from '../../src/domain/restore.js';

const MiB16 = 16 * 1024 * 1024;

describe('WAL positions and segment names', () => {
  it('reads and prints LSNs as PostgreSQL does, and refuses what is not one', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848');
    expect(formatLsn(parseLsn('0/3000028'))).toBe('0/3000028');
    expect(() => parseLsn('3000028')).toThrow('"3000028" is not an LSN (expected hex/hex, e.g. 0/3000028)');
  });

  it('names the segment that holds an LSN, and where a segment ends', () => {
    expect(segmentName(1, '0/3000028', MiB16)).toBe('000000010000000000000003');
    // 256 segments of 16 MiB to a "log" of 4 GiB: 1/0 is the first segment of log 1.
    expect(segmentName(2, '1/00000000', MiB16)).toBe('000000020000000100000000');
    expect(segmentName(1, '0/FFFFFFFF', MiB16)).toBe('0000000100000000000000FF');
    expect(segmentName(1, '0/3000028', 64 * 1024 * 1024)).toBe('000000010000000000000000');
    expect(formatLsn(segmentEndLsn('000000010000000000000003', MiB16))).toBe('0/4000000');
    expect(formatLsn(segmentEndLsn('0000000100000000000000FF', MiB16))).toBe('1/0');
  });

  it('tells segments and timeline histories from partial files, and finds them in object keys', () => {
    expect(isWalSegment('000000010000000000000003')).toBe(true);
    expect(isWalSegment('000000010000000000000003.partial')).toBe(false);
    expect(isTimelineHistory('00000002.history')).toBe(true);
    expect(walObjectKey('backups/', 'orders', '000000010000000000000003', true)).toBe('backups/orders/wal/000000010000000000000003.gz.age');
    expect(walFileOfKey('backups/orders/wal/000000010000000000000003.gz.age')).toBe('000000010000000000000003');
    expect(walFileOfKey('backups/orders/wal/00000002.history.gz')).toBe('00000002.history');
    expect(walFileOfKey('backups/orders/wal/notes.txt')).toBeUndefined();
    expect(baseBackupObjectKey('backups', 'orders', new Date('2026-12-04T02:00:00.123Z'), '0192a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', false)).toBe('backups/orders/base/2026-12-04T02-00-00Z-2e3f4a5b.tar');
  });

  it('writes a target instant as recovery_target_time takes it', () => {
    expect(postgresTimestamp('2026-12-05T00:22:34.859157Z')).toBe('2026-12-05 00:22:34.859157+00');
    expect(postgresTimestamp('2026-12-05T01:22:34+01:00')).toBe('2026-12-05 01:22:34+01:00');
  });
});

describe('restore target names', () => {
  it('takes plain database names and refuses the rest, naming the rule', () => {
    expect(restoreTargetProblem('orders_copy')).toBeUndefined();
    expect(restoreTargetProblem('Orders')).toBe('"Orders" is not a database name a restore takes: 1 to 63 lower-case letters, digits and "_", not starting with a digit');
    expect(restoreTargetProblem('drill-x')).toMatch(/is not a database name a restore takes/);
    expect(restoreTargetProblem('template1')).toBe('"template1" is a system database: restore into another');
  });

  it('keeps the names it makes within 63 bytes', () => {
    const long = 'a'.repeat(63);
    const aside = asideDatabaseName(long, new Date('2026-12-04T23:30:05.123Z'));
    expect(aside).toBe(`${'a'.repeat(32)}_before_restore_20261204t233005`);
    expect(aside.length).toBe(63);
    expect(stagingDatabaseName('0192a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b')).toBe('ops_restoring_0c1d2e3f4a5b');
  });
});
