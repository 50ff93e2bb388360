import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';
import { PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/clients/s3.js';

/**
 * What our S3 client puts on the wire, read by a local HTTP server: the one
 * thing MinIO cannot tell a test is which headers it was sent.
 */
describe('S3 client', () => {
  let server: Server;
  let endpoint: string;
  const seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders; bytes: number }> = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      let bytes = 0;
      request.on('data', (chunk: Buffer) => (bytes += chunk.length));
      request.on('end', () => {
        seen.push({ method: request.method!, url: request.url!, headers: request.headers, bytes });
        response.writeHead(200, { ETag: '"etag"' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const client = () =>
    createS3Client({ S3_ENDPOINT: endpoint, S3_REGION: 'us-east-1', S3_ACCESS_KEY_ID: 'AKIDTEST', S3_SECRET_ACCESS_KEY: 'secret-test-key' });

  it('sends multipart parts unsigned but with a CRC32 checksum, and signs everything else', async () => {
    const s3 = client();
    const part = Buffer.alloc(3 * 1024 * 1024, 'backup bytes ');
    await s3.send(new UploadPartCommand({ Bucket: 'backups', Key: 'db.dump', UploadId: 'upload-1', PartNumber: 1, Body: part }));
    const manifest = JSON.stringify({ database: 'app' });
    await s3.send(new PutObjectCommand({ Bucket: 'backups', Key: 'db.dump.manifest.json', Body: manifest }));
    s3.destroy();

    const [upload, put] = seen.slice(-2);
    expect(upload!.url).toMatch(/^\/backups\/db\.dump\?.*partNumber=1/);
    expect(upload!.bytes).toBe(part.length);
    expect(upload!.headers['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32BE(crc32(part));
    expect(upload!.headers['x-amz-checksum-crc32']).toBe(checksum.toString('base64'));
    // Still signed: the signature covers the headers, including the checksum.
    expect(upload!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTEST\/.*SignedHeaders=.*x-amz-checksum-crc32.*x-amz-content-sha256/);

    expect(put!.url).toBe('/backups/db.dump.manifest.json?x-id=PutObject');
    expect(put!.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(manifest).digest('hex'));
  });
});
