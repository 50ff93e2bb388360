import { ActivityFailure, ParentClosePolicy, patched, proxyActivities, startChild, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { createKubernetesActivities } from '../activities/kubernetes.js';
import type { createRegistryActivities } from '../activities/registry.js';
import type { createRolloutSettingsActivities } from '../activities/rollout-settings.js';
import type { createScannerActivities } from '../activities/scanner.js';
import { failureMessage, isAlreadyStarted } from '../src/domain/failures.js';
import { blockingVulnerabilities, fixedVulnerabilities, newBlockingVulnerabilities } from '../src/domain/rollout.js';
import { rolloutWorkflowId } from '../src/domain/workflow-ids.js';
import { OpsKind, OpsStatus } from '../src/domain/search-attributes.js';
import { longJob, quickApiCall } from './activity-profiles.js';
import { securityRolloutWorkflow } from './security-rollout.js';
import { reportSecurityFindings } from './security-findings.js';

/**
 * imageScanWorkflow (daily, from its schedule): for each workload in
 * `rollouts.scan.workloads`, scans the running image and the newest tag of
 * its repository; when the newer image fixes vulnerabilities at or above the
 * blocking severity and brings none, starts securityRolloutWorkflow for it
 * (which still gates, asks for approval where the policy says, and rolls
 * back on failure). One rollout per workload: one already running is left
 * alone. Findings at or above `rollouts.scan.findingSeverity` in the running
 * image open (or update) one incident per workload and image; the incidents
 * of images a workload no longer runs are resolved.
 *   temporal workflow start --type imageScanWorkflow --task-queue ops --input '{"dryRun": true}'
 */
export interface ImageScanInput {
  /** Scan and report; start no rollout. */
  dryRun?: boolean;
  requestedBy?: string;
}

export type ImageScanAction = 'up-to-date' | 'rollout-started' | 'rollout-running' | 'no-fix' | 'blocked' | 'report-only' | 'error';

export interface ImageScanFinding {
  workload: string;
  running?: string;
  candidate?: string;
  /** Vulnerabilities at or above the blocking severity in the running image. */
  runningBlocking: string[];
  /** Of those, the ones the candidate no longer has. */
  fixes: string[];
  /** Vulnerabilities at or above the blocking severity the candidate would bring. */
  introduces: string[];
  action: ImageScanAction;
  detail: string;
  rollout?: string;
  /** The incident of the running image's findings (absent in a dry run or when it has none). */
  incident?: string;
}

export interface ImageScanResult {
  dryRun: boolean;
  findings: ImageScanFinding[];
}

const settings = proxyActivities<ReturnType<typeof createRolloutSettingsActivities>>(quickApiCall);
const kubernetes = proxyActivities<ReturnType<typeof createKubernetesActivities>>(quickApiCall);
const registry = proxyActivities<ReturnType<typeof createRegistryActivities>>(quickApiCall);
const scanner = proxyActivities<ReturnType<typeof createScannerActivities>>(longJob);

export async function imageScanWorkflow(input: ImageScanInput = {}): Promise<ImageScanResult> {
  const dryRun = input.dryRun === true;
  const requestedBy = input.requestedBy?.trim() || 'image-scan';
  upsertSearchAttributes([
    { key: OpsKind, value: 'image-scan' },
    { key: OpsStatus, value: 'running' },
  ]);
  const { workloads, autoRollout, blockingSeverity } = await settings.imageScanSettings();
  const findings: ImageScanFinding[] = [];

  for (const target of workloads) {
    const workload = `${target.kind} ${target.namespace}/${target.deployment}`;
    const finding: ImageScanFinding = { workload, runningBlocking: [], fixes: [], introduces: [], action: 'error', detail: '' };
    findings.push(finding);
    try {
      const state = await kubernetes.readWorkload({ namespace: target.namespace, name: target.deployment, kind: target.kind, ...(target.container ? { container: target.container } : {}) });
      finding.running = state.image;
      const { image: candidate } = await registry.discoverLatestImage({ image: state.image });
      const current = await scanner.scanImage({ image: state.image });
      const ids = (list: { id: string }[]) => [...new Set(list.map((vulnerability) => vulnerability.id))].sort();
      finding.runningBlocking = ids(blockingVulnerabilities(current, blockingSeverity));
      if (!dryRun && patched('image-scan-findings')) {
        const reported = await reportSecurityFindings({ namespace: target.namespace, name: target.deployment, kind: target.kind, report: current, by: requestedBy });
        if (reported.incident) finding.incident = reported.incident;
      }
      if (candidate === state.image) {
        finding.action = 'up-to-date';
        finding.detail = `runs the newest tag${finding.runningBlocking.length > 0 ? `, which still has ${finding.runningBlocking.length} vulnerabilities at ${blockingSeverity} or above and no fix` : ''}`;
        continue;
      }
      finding.candidate = candidate;
      const next = await scanner.scanImage({ image: candidate });
      finding.fixes = ids(fixedVulnerabilities(current, next, blockingSeverity));
      finding.introduces = ids(newBlockingVulnerabilities(current, next, blockingSeverity));
      if (finding.introduces.length > 0) {
        finding.action = 'blocked';
        finding.detail = `${candidate} would bring ${finding.introduces.join(', ')}`;
      } else if (finding.fixes.length === 0) {
        finding.action = 'no-fix';
        finding.detail = `${candidate} fixes nothing at ${blockingSeverity} or above`;
      } else if (dryRun || !autoRollout) {
        finding.action = 'report-only';
        finding.detail = `${candidate} fixes ${finding.fixes.join(', ')}; ${dryRun ? 'dry run' : 'rollouts.scan.autoRollout is off'}`;
      } else {
        const rollout = rolloutWorkflowId(target.namespace, target.deployment);
        finding.rollout = rollout;
        try {
          await startChild(securityRolloutWorkflow, {
            workflowId: rollout,
            args: [{ namespace: target.namespace, deployment: target.deployment, kind: target.kind, ...(target.container ? { container: target.container } : {}), image: candidate, requestedBy }],
            // The rollout runs its course (approval can take hours) after this scan ends.
            parentClosePolicy: ParentClosePolicy.ABANDON,
          });
          finding.action = 'rollout-started';
          finding.detail = `${candidate} fixes ${finding.fixes.join(', ')}`;
        } catch (error) {
          if (!isAlreadyStarted(error)) throw error;
          finding.action = 'rollout-running';
          finding.detail = `${candidate} fixes ${finding.fixes.join(', ')}, and a rollout of this workload is already running`;
        }
      }
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      finding.action = 'error';
      finding.detail = failureMessage(error);
    }
  }

  const started = findings.filter((finding) => finding.action === 'rollout-started').length;
  upsertSearchAttributes([{ key: OpsStatus, value: findings.some((finding) => finding.action === 'error') ? 'partial' : 'succeeded' }]);
  upsertMemo({ summary: `${findings.length} workloads scanned, ${started} rollouts started${dryRun ? ' (dry run)' : ''}` });
  return { dryRun, findings };
}
