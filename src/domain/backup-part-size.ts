/**
 * The multipart part size of a streamed dump. S3 takes at most 10,000 parts
 * and a dump's size is known only when it ends, so the size is chosen up front
 * from an expected size: fixed 8 MiB parts would stop at about 78 GiB.
 * Peak memory is about part size * (parts in flight + 1), so parts stay at the
 * floor until the expected dump needs larger ones.
 */

const MiB = 1024 * 1024;
/** S3's limit on the parts of one multipart upload. */
export const MAX_PARTS = 10_000;
/** Our floor (S3's is 5 MiB): few enough requests for a fast stream, little memory. */
export const MIN_PART_SIZE = 8 * MiB;
/** S3's largest part. */
export const MAX_PART_SIZE = 5 * 1024 * MiB;
/** Room for a dump that outgrows its estimate (new rows, data that compresses worse than it is stored). */
export const HEADROOM = 2;

export function choosePartSize(expectedBytes: number): number {
  if (!Number.isFinite(expectedBytes) || expectedBytes < 0) throw new RangeError(`expected dump size must be a non-negative number of bytes, got ${expectedBytes}`);
  const needed = Math.ceil((expectedBytes * HEADROOM) / MAX_PARTS / MiB) * MiB;
  if (needed > MAX_PART_SIZE) {
    throw new RangeError(
      `a dump of about ${(expectedBytes / 1024 ** 4).toFixed(1)} TiB does not fit one S3 upload: ` +
        `${MAX_PARTS} parts of at most 5 GiB with room for ${HEADROOM}x growth`,
    );
  }
  return Math.max(MIN_PART_SIZE, needed);
}

