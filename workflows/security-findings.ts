import { proxyActivities } from '@temporalio/workflow';
import type { createSecurityFindingsActivities } from '../activities/security-findings.js';
import type { ScanReport } from '../src/domain/rollout.js';
import { quickApiCall } from './activity-profiles.js';
import { ownIncident } from './own-incident.js';

/**
 * What a scan of the image a workload runs means for its incidents: findings
 * at or above the policy's severity open (or update) the incident of that
 * workload and image; the incidents of images it no longer runs, or of its own
 * image once clean, are resolved. Called by the daily image scan and by a
 * rollout once its image is running healthy.
 */
export interface SecurityFindingsResult {
  /** The incident raised for the running image, when it has findings. */
  incident?: string;
  findings: string[];
  /** Incidents of earlier images this resolved (their dedup keys). */
  cleared: string[];
  /** What changed, in words (for a rollout's step); empty when nothing did. */
  said: string;
}

const findings = proxyActivities<ReturnType<typeof createSecurityFindingsActivities>>(quickApiCall);

export async function reportSecurityFindings(input: { namespace: string; name: string; kind: string; report: ScanReport; by: string }): Promise<SecurityFindingsResult> {
  const outcome = await findings.recordSecurityFindings(input);
  for (const old of outcome.clear) await ownIncident({ dedupKey: old.dedupKey, labels: old.labels }).clear(old.summary);
  const cleared = outcome.clear.map((old) => old.dedupKey);
  const resolved = cleared.length > 0 ? [`findings of ${cleared.length} earlier image${cleared.length > 1 ? 's' : ''} resolved`] : [];
  if (!outcome.raise) return { findings: [], cleared, said: resolved.join('; ') };
  const { dedupKey, labels, summary } = outcome.raise;
  const incident = await ownIncident({ dedupKey, labels }).raise({ summary });
  const open = outcome.raise.findings;
  return { incident, findings: open, cleared, said: [...resolved, `${open.length} still open in ${input.report.image} (${incident})`].join('; ') };
}
