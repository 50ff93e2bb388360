import { expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { waitFor } from '../../scripts/stack/net.js';
import { rolloutProgressQuery, type RolloutProgress } from '../../workflows/security-rollout.js';

/** Shared by the rollout tests: the image repository, the Trivy stand-in, and waits on a rollout. */
export const REPO = 'registry.test/shop/api';
export const FAKE_TRIVY = fileURLToPath(new URL('./fake-trivy.mjs', import.meta.url));

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
