import type { BackupEncryption } from './backup-encryption.js';

/**
 * Point-in-time recovery's pure rules: base backup and WAL object names, and
 * the arithmetic of log sequence numbers (LSNs) and WAL segment names.
 */

/** What a base backup wrote beside its tar (`<key>.manifest.json`). */
export interface BaseBackupManifest {
  kind: 'base';
  database: string;
  bucket: string;
  key: string;
  /** Size and SHA-256 of the stored object (the ciphertext when encrypted). */
  bytes: number;
  sha256: string;
  /** Where the backup's WAL begins and ends: recovery needs WAL from startLsn on, and is consistent from stopLsn. */
  startLsn: string;
  stopLsn: string;
  timeline: number;
  /** The server's WAL segment size in bytes (16 MiB unless initdb was told otherwise). */
  walSegmentSize: number;
  /** The cluster's system identifier: WAL of another cluster never fits this backup. */
  systemIdentifier: string;
  serverVersion: string;
  startedAt: string;
  finishedAt: string;
  encryption?: BackupEncryption;
  plainBytes?: number;
}

function stamp(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z').replaceAll(':', '-');
}

/** `<prefix>/<database>/base/2026-12-04T02-00-00Z-<run>.tar[.age]`: sorts by time. */
export function baseBackupObjectKey(prefix: string, database: string, at: Date, runId: string, encrypted: boolean): string {
  return `${prefix.replace(/\/+$/, '')}/${database}/base/${stamp(at)}-${runId.replaceAll('-', '').slice(-8)}.tar${encrypted ? '.age' : ''}`;
}

/** Where the archive keeps a WAL file (a segment or a timeline history): gzip, then age when encrypted. */
export function walObjectKey(prefix: string, database: string, fileName: string, encrypted: boolean): string {
  return `${walPrefix(prefix, database)}${fileName}.gz${encrypted ? '.age' : ''}`;
}

export function walPrefix(prefix: string, database: string): string {
  return `${prefix.replace(/\/+$/, '')}/${database}/wal/`;
}

/** The WAL file name an archive object holds, or undefined when the key is no WAL file. */
export function walFileOfKey(key: string): string | undefined {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const match = /^([0-9A-F]{24}|[0-9A-F]{8}\.history)\.gz(\.age)?$/.exec(name);
  return match?.[1];
}

/** A complete WAL segment's file name (not `.partial`, not a history file). */
export function isWalSegment(name: string): boolean {
  return /^[0-9A-F]{24}$/.test(name);
}

export function isTimelineHistory(name: string): boolean {
  return /^[0-9A-F]{8}\.history$/.test(name);
}

/** "16/B374D848" -> its 64-bit position. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not an LSN (expected hex/hex, e.g. 0/3000028)`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

export function formatLsn(position: bigint): string {
  return `${(position >> 32n).toString(16).toUpperCase()}/${(position & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** The LSN just past the end of a segment: everything before it is in the segment or earlier ones. */
export function segmentEndLsn(segment: string, segmentSize: number): bigint {
  const log = BigInt(`0x${segment.slice(8, 16)}`);
  const seg = BigInt(`0x${segment.slice(16, 24)}`);
  const perLog = 0x100000000n / BigInt(segmentSize);
  return (log * perLog + seg + 1n) * BigInt(segmentSize);
}

/** The name of the WAL segment on `timeline` that holds `lsn`: what recovery from a backup starting there needs first. */
export function segmentName(timeline: number, lsn: string, segmentSize: number): string {
  const position = parseLsn(lsn);
  const number = position / BigInt(segmentSize);
  const perLog = 0x100000000n / BigInt(segmentSize);
  const hex = (value: bigint | number) => value.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(timeline)}${hex(number / perLog)}${hex(number % perLog)}`;
}
