import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import { loadPostmortemRecord } from '../db/postmortem-records.js';
import { postmortemKey, renderPostmortem } from './postmortem.js';

/** Renders an incident's post-mortem draft and stores it in the bucket; the incident workflow and opsctl both write it so. */
export interface PostmortemStore {
  pool: pg.Pool;
  s3: S3Client;
  bucket: string;
}

export interface PostmortemDraft {
  bucket: string;
  key: string;
  location: string;
  bytes: number;
}

/** Writes `postmortems/<incident ID>.md` (again: replaced); undefined when the database has no such incident. */
export async function storePostmortemDraft(store: PostmortemStore, incidentId: string, link?: string): Promise<PostmortemDraft | undefined> {
  const record = await loadPostmortemRecord(store.pool, incidentId);
  if (!record) return undefined;
  return putPostmortem(store, incidentId, renderPostmortem(record, link ? { link } : {}));
}

/** Stores a rendered draft as `postmortems/<incident ID>.md`. */
export async function putPostmortem(store: Omit<PostmortemStore, 'pool'>, incidentId: string, body: string): Promise<PostmortemDraft> {
  const key = postmortemKey(incidentId);
  await store.s3.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: body, ContentType: 'text/markdown; charset=utf-8' }));
  return { bucket: store.bucket, key, location: `s3://${store.bucket}/${key}`, bytes: Buffer.byteLength(body) };
}
