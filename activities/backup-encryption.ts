import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ApplicationFailure } from '@temporalio/activity';
import { ErrorType } from '../src/domain/errors.js';
import { ageIdentities } from '../src/domain/backup-encryption.js';

/**
 * Client-side encryption of the objects backups write, in the age format
 * (age-encryption.org/v1), streaming: what leaves the worker is ciphertext, and
 * anyone holding an identity decrypts it with the standard `age` tool
 * (`age -d -i key.txt backup.dump.age > backup.dump`). Recipients (public keys)
 * come from the policy; the identity (the secret key) only from the
 * environment, read when a restore needs it and never logged or recorded.
 */

/** An encrypter to every recipient; age is loaded on first use (about 16 MiB a process that never encrypts does without). */
async function encrypterFor(recipients: readonly string[]) {
  const { Encrypter } = await import('age-encryption');
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  return encrypter;
}

/** `data` encrypted to every recipient, whole: for objects small enough to hold (a WAL segment). */
export async function encryptedBytes(data: Uint8Array, recipients: readonly string[]): Promise<Uint8Array> {
  return (await encrypterFor(recipients)).encrypt(data);
}

/** `source` encrypted to every recipient, as a Node stream of the age file. */
export async function encryptedStream(source: Readable, recipients: readonly string[]): Promise<Readable> {
  const encrypter = await encrypterFor(recipients);
  const encrypted = await encrypter.encrypt(Readable.toWeb(source) as unknown as ReadableStream<Uint8Array>);
  return Readable.fromWeb(encrypted as unknown as WebReadableStream<Uint8Array>);
}

/**
 * `source` (an age file) decrypted with the identities in `identityText` (the
 * text of an age identity file: `AGE-SECRET-KEY-1...` lines, `#` comments).
 * No identity, or none that opens the file, is final: retrying with the same
 * environment cannot succeed. `what` names the object in those errors.
 */
export async function decryptedStream(source: Readable, identityText: string | undefined, what: string, recipients: readonly string[]): Promise<Readable> {
  const identities = identityText ? ageIdentities(identityText) : [];
  if (identities.length === 0) {
    throw ApplicationFailure.nonRetryable(`${what} is encrypted with age and OPS_BACKUP_AGE_IDENTITY is not set on this worker: give it the identity of one of ${recipients.join(', ')}`, ErrorType.Unauthorized);
  }
  // Loaded on first use: the ciphers cost a process about 16 MiB, and only encrypted backups need them.
  const { Decrypter } = await import('age-encryption');
  const decrypter = new Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  // A download that breaks is retried; only what the cipher refuses is a corrupt object.
  let broken: Error | undefined;
  source.once('error', (error) => (broken = error));
  let plain: ReadableStream<Uint8Array>;
  try {
    plain = await decrypter.decrypt(Readable.toWeb(source) as unknown as ReadableStream<Uint8Array>);
  } catch (error) {
    if (/no identity matched/.test((error as Error).message)) {
      throw ApplicationFailure.nonRetryable(`OPS_BACKUP_AGE_IDENTITY does not decrypt ${what}: it is encrypted to ${recipients.join(', ')}`, ErrorType.Unauthorized);
    }
    throw broken ?? corrupt(what, error);
  }
  // Each 64 KiB chunk is authenticated: a chunk that fails is a changed object, said as such.
  return Readable.from(
    (async function* () {
      try {
        for await (const chunk of plain as unknown as AsyncIterable<Uint8Array>) yield chunk;
      } catch (error) {
        throw broken ?? corrupt(what, error);
      }
    })(),
    { objectMode: false },
  );
}

function corrupt(what: string, error: unknown): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`${what} cannot be decrypted (${(error as Error).message}): the object is corrupt`, ErrorType.IntegrityCheckFailed);
}
