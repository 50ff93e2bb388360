import { createHash } from 'node:crypto';
import { bindDeps } from './bind-deps.js';
import type pg from 'pg';
import type { Policy } from '../src/config/policy.js';
import { recordFindings, type OpenFinding } from '../src/db/security-findings.js';
import { blockingVulnerabilities, type ScanReport } from '../src/domain/rollout.js';
import { incidentWorkflowId } from '../src/domain/workflow-ids.js';
import type { Severity } from '../src/domain/severity.js';

/**
 * Security findings: the vulnerabilities at or above the policy's
 * `rollouts.scan.findingSeverity` in the image a workload runs. Recording them
 * says which incident (one per workload and image) to raise and which earlier
 * images' incidents to resolve; the workflow raises and clears them.
 */
export interface SecurityFindingsDeps {
  pool: pg.Pool;
  policy: Pick<Policy, 'rollouts'>;
}

export interface FindingsIncident {
  dedupKey: string;
  labels: { alertname: string; severity: Severity; namespace: string; workload: string; service: string; image: string };
  summary: string;
}

export interface SecurityFindingsOutcome {
  /** Raise this when the running image has findings. */
  raise?: FindingsIncident & { findings: string[] };
  /** Resolve these: images the workload no longer runs, or its own image once fixed. */
  clear: FindingsIncident[];
}

/** One incident per workload and image: `security-<namespace>-<name>-<12 hex of the image>`. */
export function findingsDedupKey(namespace: string, name: string, image: string): string {
  return `security-${namespace}-${name}-${createHash('sha256').update(image).digest('hex').slice(0, 12)}`;
}

export async function recordSecurityFindings(
  deps: SecurityFindingsDeps,
  input: { namespace: string; name: string; kind: string; report: ScanReport; by: string },
): Promise<SecurityFindingsOutcome> {
  const { findingSeverity, incidentSeverity } = deps.policy.rollouts.scan;
  const workload = `${input.kind} ${input.namespace}/${input.name}`;
  const image = input.report.image;
  const found = blockingVulnerabilities(input.report, findingSeverity);
  const incidentFor = (of: string, summary: string): FindingsIncident => ({
    dedupKey: findingsDedupKey(input.namespace, input.name, of),
    labels: { alertname: 'VulnerableImage', severity: incidentSeverity, namespace: input.namespace, workload: input.name, service: input.name, image: of },
    summary,
  });
  const own = incidentFor(image, '');
  const recorded = await recordFindings(deps.pool, {
    workload,
    image,
    vulnerabilities: found,
    ...(found.length > 0 ? { incident: incidentWorkflowId(own.dedupKey) } : {}),
    by: input.by,
  });
  const clear = recorded.resolvedImages.map(({ image: old, findings }) =>
    incidentFor(old, old === image ? `${workload}: ${image} no longer has findings at ${findingSeverity} or above` : `${workload} no longer runs ${old} (${findings} findings resolved); it runs ${image}`),
  );
  if (found.length === 0) return { clear };
  return { raise: { ...own, summary: findingsSummary(workload, image, recorded.open, findingSeverity), findings: recorded.open.map((finding) => finding.vulnerability) }, clear };
}

function findingsSummary(workload: string, image: string, open: OpenFinding[], threshold: string): string {
  const counts = new Map<string, number>();
  for (const finding of open) counts.set(finding.severity, (counts.get(finding.severity) ?? 0) + 1);
  const bySeverity = [...counts].map(([severity, count]) => `${count} ${severity}`).join(', ');
  const names = [...new Set(open.map((finding) => `${finding.vulnerability} (${finding.package})`))].slice(0, 10).join(', ');
  return `${workload} runs ${image} with ${open.length} vulnerabilities at ${threshold} or above (${bySeverity}): ${names}`;
}

export function createSecurityFindingsActivities(deps: SecurityFindingsDeps) {
  return bindDeps(deps, { recordSecurityFindings });
}
