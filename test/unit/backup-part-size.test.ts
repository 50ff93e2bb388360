import { describe, expect, it } from 'vitest';
import { choosePartSize, HEADROOM, MAX_PARTS, MIN_PART_SIZE } from '../../src/domain/backup-part-size.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('backup part size', () => {
  it('stays at 8 MiB while 10,000 of them hold twice the expected dump', () => {
    expect(choosePartSize(0)).toBe(8 * MiB);
    expect(choosePartSize(2 * GiB)).toBe(8 * MiB);
    expect(choosePartSize(39 * GiB)).toBe(8 * MiB);
  });

  it('grows in whole MiB so that a dump twice the expected size still fits S3 parts', () => {
    expect(choosePartSize(40 * GiB)).toBe(9 * MiB);
    expect(choosePartSize(100 * GiB)).toBe(21 * MiB);
    expect(choosePartSize(1024 * GiB)).toBe(210 * MiB);
    for (const expected of [40 * GiB, 77.3 * GiB, 100 * GiB, 333.3 * GiB, 1024 * GiB, 20 * 1024 * GiB]) {
      const part = choosePartSize(expected);
      expect(part % MiB).toBe(0);
      expect(part).toBeGreaterThanOrEqual(MIN_PART_SIZE);
      expect(part * MAX_PARTS).toBeGreaterThanOrEqual(expected * HEADROOM);
      // No larger than it must be: memory is about part size * (queue + 1).
      expect((part - MiB) * MAX_PARTS).toBeLessThan(expected * HEADROOM);
    }
  });

  it('refuses a dump that no S3 upload can hold, and a size that is not one', () => {
    expect(() => choosePartSize(30 * 1024 * GiB)).toThrow(/about 30\.0 TiB does not fit one S3 upload/);
    expect(() => choosePartSize(Number.NaN)).toThrow(/expected dump size must be a non-negative number of bytes, got NaN/);
    expect(() => choosePartSize(-1)).toThrow(/got -1/);
  });
});
