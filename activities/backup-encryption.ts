import { Readable, type Transform } from 'node:stream';
import { ApplicationFailure } from '@temporalio/activity';
import { ErrorType } from '../src/domain/errors.js';
import { ageIdentities } from '../src/domain/backup-encryption.js';
import { openPayload, payloadKey, sealPayload } from './age-payload.js';

/**
 * Client-side encryption of the objects backups write, in the age format
 * (age-encryption.org/v1), streaming: what leaves the worker is ciphertext, and
 * anyone holding an identity decrypts it with the standard `age` tool
 * (`age -d -i key.txt backup.dump.age > backup.dump`). Recipients (public keys)
 * come from the policy; the identity (the secret key) only from the
 * environment, read when a restore needs it and never logged or recorded.
 */

/**
 * The start of a new age file to every recipient: its header (the file key
 * wrapped to each recipient, and the header's MAC) and payload nonce, made by
 * age-encryption; and the payload key for sealPayload. age-encryption hands
 * the file key to each Recipient it encrypts to (its public Recipient
 * interface): one more that wraps nothing learns it. age is loaded on first
 * use (about 16 MiB a process that never encrypts does without).
 */
async function newAgeFile(recipients: readonly string[]): Promise<{ prefix: Buffer; key: Buffer }> {
  const { Encrypter } = await import('age-encryption');
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  let fileKey: Uint8Array | undefined;
  encrypter.addRecipient({
    wrapFileKey: (key: Uint8Array) => {
      fileKey = Uint8Array.from(key);
      return [];
    },
  });
  // The age file of nothing: header, 16-byte nonce, then the empty last chunk (its 16-byte tag alone).
  const empty = Buffer.from(await encrypter.encrypt(new Uint8Array(0)));
  const prefix = empty.subarray(0, empty.length - 16);
  const headerEnd = prefix.length - 16;
  const macLine = prefix.lastIndexOf('\n--- ');
  if (!fileKey || macLine < 0 || prefix.indexOf(0x0a, macLine + 1) !== headerEnd - 1) {
    throw new Error('age-encryption wrote an age file this worker cannot extend (header, nonce and empty chunk expected)');
  }
  return { prefix, key: payloadKey(fileKey, prefix.subarray(headerEnd)) };
}

/** `data` encrypted to every recipient, whole: for objects small enough to hold (a WAL segment). */
export async function encryptedBytes(data: Uint8Array, recipients: readonly string[]): Promise<Uint8Array> {
  const sealed = await encryptedStream(Readable.from([Buffer.from(data.buffer, data.byteOffset, data.byteLength)]), recipients);
  const parts: Buffer[] = [];
  for await (const part of sealed) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** `source` encrypted to every recipient, as a Node stream of the age file. */
export async function encryptedStream(source: Readable, recipients: readonly string[]): Promise<Readable> {
  const { prefix, key } = await newAgeFile(recipients);
  const sealing = sealPayload(key);
  sealing.push(prefix);
  source.once('error', (error) => sealing.destroy(error));
  return source.pipe(sealing);
}

/**
 * The header of an age file (through its MAC line) and the 16-byte payload
 * nonce, read from the front of `source`, which is left paused with the rest.
 */
function readAgePrefix(source: Readable): Promise<{ header: Buffer; nonce: Buffer; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let held: Buffer = Buffer.alloc(0);
    const stop = () => {
      source.pause();
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      held = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
      const mac = held.indexOf('\n--- ');
      const end = mac < 0 ? -1 : held.indexOf(0x0a, mac + 1);
      if (end >= 0 && held.length >= end + 17) {
        stop();
        resolve({ header: held.subarray(0, end + 1), nonce: held.subarray(end + 1, end + 17), rest: held.subarray(end + 17) });
      } else if (mac < 0 && held.length > 256 * 1024) {
        stop();
        reject(new Error('no age header (its MAC line) in the first 256 KiB of the object'));
      }
    };
    const onEnd = () => {
      stop();
      reject(new Error('the object ends before its age header and payload nonce'));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    source.on('data', onData);
    source.once('end', onEnd);
    source.once('error', onError);
  });
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
  let plain: Transform | undefined;
  source.once('error', (error) => {
    broken = error;
    plain?.destroy(error);
  });
  let key: Buffer;
  let rest: Buffer;
  try {
    const prefix = await readAgePrefix(source);
    // age-encryption reads the header, unwraps the file key with an identity and checks the header's MAC.
    key = payloadKey(await decrypter.decryptHeader(prefix.header), prefix.nonce);
    rest = prefix.rest;
  } catch (error) {
    if (/no identity matched/.test((error as Error).message)) {
      throw ApplicationFailure.nonRetryable(`OPS_BACKUP_AGE_IDENTITY does not decrypt ${what}: it is encrypted to ${recipients.join(', ')}`, ErrorType.Unauthorized);
    }
    throw broken ?? corrupt(what, error);
  }
  if (broken) throw broken;
  const opening = (plain = openPayload(key));
  if (rest.length > 0) opening.write(rest);
  source.pipe(opening);
  // Each 64 KiB chunk is authenticated: a chunk that fails is a changed object, said as such.
  return Readable.from(
    (async function* () {
      try {
        for await (const chunk of opening) yield chunk as Buffer;
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
