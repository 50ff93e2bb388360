import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { BackupEncryption } from '../src/domain/backup-encryption.js';
import { encryptedStream } from './backup-encryption.js';

/**
 * A stream (pg_dump's or pg_basebackup's output) into an S3 multipart upload,
 * encrypted on the way when asked, with the SHA-256 and size of what is
 * stored (the ciphertext when encrypted, so `sha256sum` of the object matches)
 * and a live count of the source's bytes.
 */
export interface StreamedUpload {
  upload: Upload;
  /** The source's bytes read so far (the plain bytes when encrypting). */
  plainBytes(): number;
  /** Settles with what is stored once the upload completes. */
  done(): Promise<{ bytes: number; sha256: string }>;
}

export async function streamToS3(
  s3: S3Client,
  target: { bucket: string; key: string; partSize: number; queueSize: number; encryption?: BackupEncryption | undefined },
  source: Readable,
): Promise<StreamedUpload> {
  const hash = createHash('sha256');
  let stored = 0;
  let plain = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      stored += chunk.length;
      callback(null, chunk);
    },
  });
  if (target.encryption) {
    // The plain bytes are counted on their way into the cipher: a listener added beside it could miss what it had already read.
    const plainCounter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        plain += chunk.length;
        callback(null, chunk);
      },
    });
    source.once('error', (error) => plainCounter.destroy(error));
    const encrypted = await encryptedStream(source.pipe(plainCounter), target.encryption.recipients);
    encrypted.once('error', (error) => counter.destroy(error));
    encrypted.pipe(counter);
  } else {
    // The counting stream is the upload's body: every stream stage costs CPU that the producer, the limit, would otherwise have.
    source.pipe(counter);
  }
  const upload = new Upload({
    client: s3,
    params: { Bucket: target.bucket, Key: target.key, Body: counter, ContentType: 'application/octet-stream' },
    partSize: target.partSize,
    queueSize: target.queueSize,
    leavePartsOnError: false,
  });
  return {
    upload,
    plainBytes: () => (target.encryption ? plain : stored),
    done: async () => {
      await upload.done();
      return { bytes: stored, sha256: hash.digest('hex') };
    },
  };
}
