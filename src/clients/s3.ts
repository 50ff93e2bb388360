import {
  CreateBucketCommand,
  GetObjectLockConfigurationCommand,
  HeadBucketCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';

export interface S3Settings {
  S3_ENDPOINT: string;
  S3_REGION: string;
  S3_ACCESS_KEY_ID: string;
  S3_SECRET_ACCESS_KEY: string;
}

/**
 * Path-style addressing for anything but AWS itself, which is what MinIO and
 * most S3 servers expect.
 *
 * Parts of a multipart upload are sent with an UNSIGNED-PAYLOAD signature
 * (headers and URL stay signed). Otherwise the SDK hashes every part with
 * SHA-256 to sign it and S3 hashes it again to check, although each part
 * already carries a CRC32 checksum that S3 verifies, and a backup computes the
 * SHA-256 of the whole dump for its manifest. On a backup host that hashing is
 * CPU taken from pg_dump (npm run bench:backup).
 */
export function createS3Client(settings: S3Settings): S3Client {
  const isAws = /\.amazonaws\.com(\.cn)?(:\d+)?\/?$/.test(new URL(settings.S3_ENDPOINT).host);
  const client = new S3Client({
    endpoint: settings.S3_ENDPOINT,
    region: settings.S3_REGION,
    forcePathStyle: !isAws,
    credentials: {
      accessKeyId: settings.S3_ACCESS_KEY_ID,
      secretAccessKey: settings.S3_SECRET_ACCESS_KEY,
    },
    // Retries belong to Temporal's activity retry policy, where they are visible.
    maxAttempts: 1,
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (context.commandName === 'UploadPartCommand' && request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'unsignedUploadPartPayload' },
  );
  return client;
}

/**
 * Creates the bucket when it does not exist; an existing one is left alone.
 * `objectLock`: made with S3 Object Lock (which only creation can turn on), and
 * an existing bucket without it is refused.
 */
export async function ensureBucket(s3: S3Client, bucket: string, options: { objectLock?: boolean } = {}): Promise<'created' | 'exists'> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    if (options.objectLock) await requireObjectLock(s3, bucket);
    return 'exists';
  } catch (error) {
    const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
    if (status !== 404) throw error;
  }
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket, ...(options.objectLock ? { ObjectLockEnabledForBucket: true } : {}) }));
    return 'created';
  } catch (error) {
    // Another process won the race: that is the outcome we wanted.
    if (error instanceof S3ServiceException && error.name === 'BucketAlreadyOwnedByYou') return 'exists';
    throw error;
  }
}

export class ObjectLockMissingError extends Error {}

async function requireObjectLock(s3: S3Client, bucket: string): Promise<void> {
  const missing = () => new ObjectLockMissingError(`bucket ${bucket} exists without Object Lock, which only its creation can turn on: name another bucket, or let ops-automation create it`);
  try {
    const { ObjectLockConfiguration } = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
    if (ObjectLockConfiguration?.ObjectLockEnabled !== 'Enabled') throw missing();
  } catch (error) {
    if (error instanceof S3ServiceException && error.name === 'ObjectLockConfigurationNotFoundError') throw missing();
    throw error;
  }
}
