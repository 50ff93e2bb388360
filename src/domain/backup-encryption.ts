/**
 * Backup encryption's pure rules: how an encrypted object is named, and how
 * the text of an age identity file (what OPS_BACKUP_AGE_IDENTITY holds) splits
 * into identities. The cryptography itself is in activities/backup-encryption.ts.
 */

/** The suffix of an object written in the age format, as the `age` tool's users expect. */
export const AGE_SUFFIX = '.age';

/** What a manifest records of an encrypted object: the format, and the recipients it was encrypted to (public keys). */
export interface BackupEncryption {
  format: 'age';
  recipients: string[];
}

/** The identities in the text of an age identity file: one `AGE-SECRET-KEY-...` per line, blank lines and `#` comments skipped. */
export function ageIdentities(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}
