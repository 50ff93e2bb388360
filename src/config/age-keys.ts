import { bech32 } from '@scure/base';

/**
 * age keys checked as age reads them (Bech32: prefix, checksum, and for X25519
 * keys the 32-byte length), without loading the age library itself: its
 * ciphers cost every process about 16 MiB, and only backups need them.
 * Post-quantum and tag recipients are checked by prefix and checksum.
 */

function decodes(text: string, prefix: string, length?: number): boolean {
  try {
    const decoded = bech32.decode(text as `${string}1${string}`, false);
    return decoded.prefix === prefix && (length === undefined || bech32.fromWords(decoded.words).length === length);
  } catch {
    return false;
  }
}

/** An age recipient (public key): `age1...` (X25519), or `age1pq1...`, `age1tag1...`, `age1tagpq1...`. */
export function isAgeRecipient(text: string): boolean {
  for (const prefix of ['age1pq', 'age1tag', 'age1tagpq']) if (text.startsWith(`${prefix}1`)) return decodes(text, prefix);
  return decodes(text, 'age', 32);
}

/** An age identity (secret key): `AGE-SECRET-KEY-1...` (X25519) or `AGE-SECRET-KEY-PQ-1...`. */
export function isAgeIdentity(text: string): boolean {
  if (text !== text.toUpperCase()) return false;
  if (text.startsWith('AGE-SECRET-KEY-PQ-1')) return decodes(text.toLowerCase(), 'age-secret-key-pq-');
  return decodes(text.toLowerCase(), 'age-secret-key-', 32);
}
