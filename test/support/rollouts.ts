import { expect } from 'vitest';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { waitFor } from '../../scripts/stack/net.js';
import { rolloutProgressQuery, securityRolloutWorkflow, type RolloutProgress, type SecurityRolloutInput } from '../../workflows/security-rollout.js';

/** Shared by the rollout tests: the image repository, the Trivy stand-in, and waits on a rollout. */
export const REPO = 'registry.test/shop/api';
export const FAKE_TRIVY = fileURLToPath(new URL('./fake-trivy.mjs', import.meta.url));

/** The digest fake-trivy reports having scanned for `image` (the SHA-256 of its name). */
export function scannedDigest(image: string): string {
  return `sha256:${createHash('sha256').update(image).digest('hex')}`;
}

/** `image` pinned to the digest fake-trivy scanned, as a rollout patches it. */
export function pinned(image: string): string {
  return `${image}@${scannedDigest(image)}`;
}

export async function progressWhen(handle: WorkflowHandle, phase: string): Promise<RolloutProgress> {
  let last: RolloutProgress | undefined;
  await waitFor(`phase ${phase}`, async () => (last = await handle.query(rolloutProgressQuery)).phase === phase, 20_000);
  return last!;
}

/** The failure a rollout ended with. */
export async function failureOf(handle: WorkflowHandle) {
  const error = await handle.result().catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(WorkflowFailedError);
  return (error as WorkflowFailedError).cause!;
}

/** The scanner command of a policy: the Trivy stand-in reading these reports ({image: [{id, severity, pkg}]}). */
export function fakeScanner(reports: Record<string, { id: string; severity: string; pkg: string }[]>): string[] {
  const file = join(mkdtempSync(join(tmpdir(), 'ops-scanner-')), 'reports.json');
  writeFileSync(file, JSON.stringify(reports));
  return [process.execPath, FAKE_TRIVY, file];
}

/** Starts a rollout of `namespace/<name>` to 1.4.2 (unless the input says otherwise), as alice. */
export function rolloutStarter(client: Client, taskQueue: string, namespace: string) {
  return (name: string, input: Partial<SecurityRolloutInput> = {}) =>
    client.workflow.start(securityRolloutWorkflow, {
      taskQueue,
      workflowId: `rollout-${namespace}-${name}`,
      args: [{ namespace, deployment: name, image: `${REPO}:1.4.2`, requestedBy: 'alice', ...input }],
    });
}
