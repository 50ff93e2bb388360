import type { S3Client } from '@aws-sdk/client-s3';
import type { KubeConfig } from '@kubernetes/client-node';
import type { WebClient } from '@slack/web-api';
import type { Client, Connection } from '@temporalio/client';
import type { Transporter } from 'nodemailer';
import type pg from 'pg';
import type { Env } from '../config/env.js';
import { createKubeConfig } from './kubernetes.js';
import { createPgPool } from './postgres.js';
import { createS3Client } from './s3.js';
import { createSlackClient } from './slack.js';
import { createSmtpTransport } from './smtp.js';
import { connectTemporalClient } from './temporal.js';

/**
 * The real clients of one process, each created once. The optional SaaS
 * clients exist only when configured; Kubernetes is loaded on first use, so a
 * worker without cluster access starts and fails only the steps that need it.
 */
export interface Clients {
  temporal: Client;
  temporalConnection: Connection;
  pool: pg.Pool;
  s3: S3Client;
  slack: WebClient | undefined;
  smtp: Transporter | undefined;
  kube(): KubeConfig;
  close(): Promise<void>;
}

export async function createClients(env: Env, applicationName: string): Promise<Clients> {
  const { client: temporal, connection: temporalConnection } = await connectTemporalClient(env);
  const pool = createPgPool(env.DATABASE_URL, applicationName);
  const s3 = createS3Client(env);
  const slack = env.SLACK_TOKEN ? createSlackClient(env.SLACK_TOKEN, env.SLACK_API_URL) : undefined;
  const smtp = env.SMTP_URL ? createSmtpTransport(env.SMTP_URL) : undefined;
  let kube: KubeConfig | undefined;
  return {
    temporal,
    temporalConnection,
    pool,
    s3,
    slack,
    smtp,
    kube() {
      kube ??= createKubeConfig(env.KUBECONFIG);
      return kube;
    },
    async close() {
      smtp?.close();
      s3.destroy();
      await Promise.allSettled([pool.end(), temporalConnection.close()]);
    },
  };
}

export { createKubeConfig, createPgPool, createS3Client, createSlackClient, createSmtpTransport };
export { connectTemporalClient, connectWorkerConnection, ensureSearchAttributes } from './temporal.js';
export { ensureBucket } from './s3.js';
