import type { S3Client } from '@aws-sdk/client-s3';
import type { KubeConfig } from '@kubernetes/client-node';
import type { WebClient } from '@slack/web-api';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type { Transporter } from 'nodemailer';
import type pg from 'pg';
import type { Env } from '../config/env.js';
import { createPgPool } from './postgres.js';
import { createS3Client } from './s3.js';
import { connectNativeTemporalClient } from './temporal.js';

/**
 * The real clients of one process, each created once. The optional SaaS
 * clients exist only when configured; Kubernetes is configured on first use,
 * so a worker without cluster access starts and fails only the steps that need
 * it. A process that needs no notifier or no Kubernetes (the webhook server,
 * the data worker) does not even load those libraries: the Kubernetes client
 * alone is about 100 MiB of resident memory.
 */
export interface Clients {
  temporal: Client;
  /** The SDK's Rust client (src/clients/temporal.ts): a worker polls on this same connection. */
  temporalConnection: NativeConnection;
  pool: pg.Pool;
  s3: S3Client;
  slack: WebClient | undefined;
  smtp: Transporter | undefined;
  /** The Kubernetes client's config, loaded on first use (src/clients/kubernetes-api.ts). */
  kube(): Promise<KubeConfig>;
  close(): Promise<void>;
}

export interface ClientNeeds {
  /** Slack and SMTP (default true). */
  notifiers?: boolean;
  /** The Kubernetes API (default true). */
  kubernetes?: boolean;
}

export async function createClients(env: Env, applicationName: string, needs: ClientNeeds = {}): Promise<Clients> {
  const { client: temporal, connection: temporalConnection } = await connectNativeTemporalClient(env);
  const pool = createPgPool(env.DATABASE_URL, applicationName);
  const s3 = createS3Client(env);
  const notifiers = needs.notifiers ?? true;
  const slack = notifiers && env.SLACK_TOKEN ? (await import('./slack.js')).createSlackClient(env.SLACK_TOKEN, env.SLACK_API_URL) : undefined;
  const smtp = notifiers && env.SMTP_URL ? (await import('./smtp.js')).createSmtpTransport(env.SMTP_URL) : undefined;
  const kubernetes = needs.kubernetes ?? true;
  let kube: Promise<KubeConfig> | undefined;
  return {
    temporal,
    temporalConnection,
    pool,
    s3,
    slack,
    smtp,
    kube() {
      if (!kubernetes) return Promise.reject(new Error(`${applicationName} was started without a Kubernetes client`));
      kube ??= import('./kubernetes.js').then((module) => module.createKubeConfig(env.KUBECONFIG));
      return kube;
    },
    async close() {
      smtp?.close();
      s3.destroy();
      await Promise.allSettled([pool.end(), temporalConnection.close()]);
    },
  };
}

export { createPgPool, createS3Client };
export { connectTemporalClient, connectNativeTemporalClient, ensureSearchAttributes, type TemporalConnection } from './temporal.js';
export { ensureBucket } from './s3.js';
