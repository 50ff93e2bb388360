import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { WorkloadKind } from '../activities/kubernetes.js';
import type { AnalysisFigures, Bump } from '../src/domain/rollout.js';

/**
 * securityRolloutWorkflow's contract: input, progress and messages, apart
 * from the workflow's code, for opsctl, Slack's buttons and the image scan.
 */

export const SECURITY_ROLLOUT_WORKFLOW = 'securityRolloutWorkflow';

export interface SecurityRolloutInput {
  namespace: string;
  /** The workload's name (a Deployment unless `kind` says StatefulSet). */
  deployment: string;
  kind?: WorkloadKind;
  /** Default: the only container. */
  container?: string;
  /** The image to roll out; or `discover` to take the highest semver tag of the running image's repository. */
  image?: string;
  discover?: boolean;
  /** Wait for approve() whatever the bump. */
  requireApproval?: boolean;
  /** Default from the policy (4h): "30m", "2h". */
  approvalTimeout?: string;
  /** Default from the policy (5m): how long the workload must stay healthy after the rollout. */
  watchWindow?: string;
  /** "freeze" keeps the new image and pages instead of rolling back (for changes that cannot be reversed). */
  onFailure?: 'rollback' | 'freeze';
  /** "canary": a `<name>-canary` Deployment with the new image is analysed first; the main one changes only after it passes. */
  strategy?: 'rolling' | 'canary';
  /** Replicas of the canary; default 1. */
  canaryReplicas?: number;
  /** Change the workload now even outside the policy's rollout windows (an urgent fix). */
  ignoreWindows?: boolean;
  requestedBy?: string;
}

export type RolloutPhase =
  | 'checking'
  | 'scanning'
  | 'awaiting-approval'
  | 'waiting-for-window'
  | 'rollback-failed'
  | 'rolling-out'
  | 'watching'
  | 'rolling-back'
  | 'succeeded'
  | 'rolled-back'
  | 'frozen'
  | 'refused';

export interface RolloutProgress {
  workload: string;
  phase: RolloutPhase;
  from?: string;
  to: string;
  /** The reference the workload is patched with: `to` pinned to the digest that was scanned. */
  pinned?: string;
  bump?: Bump;
  approval?: { decision: 'approved' | 'rejected'; by: string; at: string; reason?: string };
  /** Prometheus figures before the change and at the end of the watch window. */
  analysis?: { baseline: AnalysisFigures; after?: AnalysisFigures };
  steps: { at: string; step: string; detail: string }[];
  error?: string;
}

export const approveUpdate = defineUpdate<RolloutProgress, [{ by: string }]>('approve');
export const rejectUpdate = defineUpdate<RolloutProgress, [{ by: string; reason?: string }]>('reject');
export const abortUpdate = defineUpdate<RolloutProgress, [{ by: string; reason?: string }]>('abort');
export const rollbackUpdate = defineUpdate<RolloutProgress, [{ by: string }]>('rollback');
export const rolloutProgressQuery = defineQuery<RolloutProgress>('progress');
