import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/activity';
import { ErrorType } from '../src/domain/errors.js';

export interface StorageDeps {
  s3: S3Client;
  bucket: string;
}

export interface PutObjectInput {
  /** The object key is the idempotency key: writing it again replaces it with the same bytes. */
  key: string;
  body: string;
  contentType?: string;
}

export interface StoredObject {
  bucket: string;
  key: string;
  bytes: number;
  sha256: string;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function createStorageActivities(deps: StorageDeps) {
  async function putObject(input: PutObjectInput): Promise<StoredObject> {
    const digest = sha256(input.body);
    await deps.s3.send(
      new PutObjectCommand({
        Bucket: deps.bucket,
        Key: input.key,
        Body: input.body,
        ContentType: input.contentType ?? 'application/octet-stream',
        Metadata: { sha256: digest },
      }),
    );
    return { bucket: deps.bucket, key: input.key, bytes: Buffer.byteLength(input.body), sha256: digest };
  }

  return {
    putObject,

    /**
     * Writes an object and reads it back: proves the bucket takes writes and
     * returns the same bytes. A mismatch is final, not something to retry.
     */
    async verifyObjectRoundTrip(input: PutObjectInput): Promise<StoredObject> {
      const stored = await putObject(input);
      const read = await deps.s3.send(new GetObjectCommand({ Bucket: deps.bucket, Key: input.key }));
      const text = (await read.Body?.transformToString('utf8')) ?? '';
      if (sha256(text) !== stored.sha256) {
        throw ApplicationFailure.nonRetryable(
          `s3://${deps.bucket}/${input.key} read back ${Buffer.byteLength(text)} bytes that differ from the ${stored.bytes} written`,
          ErrorType.IntegrityCheckFailed,
        );
      }
      return stored;
    },
  };
}
