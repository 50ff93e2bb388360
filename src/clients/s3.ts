import {
  CreateBucketCommand,
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

/** Creates the bucket when it does not exist; an existing one is left alone. */
export async function ensureBucket(s3: S3Client, bucket: string): Promise<'created' | 'exists'> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return 'exists';
  } catch (error) {
    const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
    if (status !== 404) throw error;
  }
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    return 'created';
  } catch (error) {
    // Another process won the race: that is the outcome we wanted.
    if (error instanceof S3ServiceException && error.name === 'BucketAlreadyOwnedByYou') return 'exists';
    throw error;
  }
}
