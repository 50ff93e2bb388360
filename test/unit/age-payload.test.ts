import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { beforeAll, describe, expect, it } from 'vitest';
import { decryptedStream, encryptedBytes, encryptedStream } from '../../activities/backup-encryption.js';

/**
 * Our age files against age-encryption, the reference implementation in
 * JavaScript (the standard `age` tool is checked in the encrypted-backups
 * suite): each side opens what the other wrote, at the sizes where age's
 * 64 KiB chunking has its edges, and a file cut at a chunk boundary, grown,
 * or changed is refused.
 */
describe('age files with the payload sealed natively', () => {
  let identity: string;
  let recipient: string;
  const sizes = [0, 1, 65_535, 65_536, 65_537, 131_072, 300_001];

  beforeAll(async () => {
    identity = await generateX25519Identity();
    recipient = await identityToRecipient(identity);
  });

  /** `data` as a stream of uneven pieces, as pg_dump's pipe hands them over. */
  const pieces = (data: Buffer) => {
    const parts: Buffer[] = [];
    for (let at = 0, step = 1; at < data.length; at += step, step = (step * 7 + 13) % 70_001) parts.push(data.subarray(at, at + step));
    return Readable.from(parts);
  };
  const collect = async (stream: Readable) => {
    const parts: Buffer[] = [];
    for await (const part of stream) parts.push(part as Buffer);
    return Buffer.concat(parts);
  };
  const ours = async (file: Uint8Array) => collect(await decryptedStream(pieces(Buffer.from(file)), identity, 'the file', [recipient]));
  const reference = async (file: Uint8Array) => {
    const decrypter = new Decrypter();
    decrypter.addIdentity(identity);
    return Buffer.from(await decrypter.decrypt(file));
  };

  it.each(sizes)('age-encryption opens what we seal (%i bytes)', async (size) => {
    const plain = randomBytes(size);
    const file = await collect(await encryptedStream(pieces(plain), [recipient]));
    expect(file.subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
    expect((await reference(file)).equals(plain)).toBe(true);
    expect(Buffer.from(await encryptedBytes(plain, [recipient])).length).toBe(file.length);
  });

  it.each(sizes)('we open what age-encryption seals (%i bytes)', async (size) => {
    const plain = randomBytes(size);
    const encrypter = new Encrypter();
    encrypter.addRecipient(recipient);
    expect((await ours(await encrypter.encrypt(plain))).equals(plain)).toBe(true);
  });

  it('refuses a file cut at a chunk boundary, one with bytes added, and one with a byte changed', async () => {
    const plain = randomBytes(3 * 65_536 + 10);
    const file = Buffer.from(await encryptedBytes(plain, [recipient]));
    const payloadStart = file.length - (plain.length + 4 * 16);
    const cut = file.subarray(0, payloadStart + 2 * (65_536 + 16));
    await expect(ours(cut)).rejects.toMatchObject({ type: 'IntegrityCheckFailed', message: expect.stringContaining('the file cannot be decrypted (chunk 1 (the last) failed authentication)') });
    await expect(ours(Buffer.concat([file, Buffer.from('more')]))).rejects.toMatchObject({ type: 'IntegrityCheckFailed' });
    const changed = Buffer.from(file);
    changed[payloadStart + 70_000] = changed[payloadStart + 70_000]! ^ 1;
    await expect(ours(changed)).rejects.toMatchObject({ type: 'IntegrityCheckFailed', message: expect.stringContaining('chunk 1 failed authentication') });
    expect((await ours(file)).equals(plain)).toBe(true);
  });

  it('refuses an object that is not an age file', async () => {
    await expect(ours(Buffer.from('PGDMP not encrypted at all'))).rejects.toMatchObject({ type: 'IntegrityCheckFailed', message: expect.stringContaining('ends before its age header') });
  });
});
