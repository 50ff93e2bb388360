import { z } from 'zod';
import { VULNERABILITY_SEVERITIES } from '../domain/rollout.js';
import { SEVERITIES } from '../domain/severity.js';
import { duration, maintenanceWindowSchema } from './policy-incidents.js';

/**
 * The policy file's `rollouts` section: the scanner, which bumps wait for a
 * person, and how long a rollout may take and must then stay healthy.
 */
/** An absent section parses as `{}`, and every key in it has its own default. */
const EVERY_KEY_DEFAULTED = {} as never;

export const rolloutPolicySection = {
  rollouts: z
    .object({
      scanner: z
        .object({
          /** Prints Trivy's JSON report for the image appended as the last argument. */
          command: z.array(z.string().min(1)).min(1).default(['trivy', 'image', '--format', 'json', '--quiet']),
          blockingSeverity: z.enum(VULNERABILITY_SEVERITIES).default('HIGH'),
          timeout: duration('10m'),
        })
        .strict()
        .prefault(EVERY_KEY_DEFAULTED),
      approval: z
        .object({
          /** Bumps that wait for approve({by}); "unknown" is a tag that is not semver or a new repository. */
          requiredFor: z.array(z.enum(['major', 'minor', 'patch', 'downgrade', 'unknown'])).default(['major', 'downgrade', 'unknown']),
          timeout: duration('4h'),
          /** Who may approve: person IDs of oncall.people, and `{ schedule: <name> }` for whoever is on call there. */
          approvers: z
            .array(z.union([z.string().min(1), z.object({ schedule: z.string().min(1) }).strict()], { error: 'expected a person ID or { schedule: <name> }' }))
            .default([]),
        })
        .strict()
        .prefault(EVERY_KEY_DEFAULTED),
      /**
       * Analysis against a baseline read before the change. Queries are PromQL
       * giving one number, with $namespace and $workload filled in; without
       * them a rollout is judged by Kubernetes readiness alone.
       */
      analysis: z
        .object({
          errorRatioQuery: z.string().min(1).optional(),
          latencyP95Query: z.string().min(1).optional(),
          /** The error ratio may rise by at most this much (0.05 = 5 percentage points). */
          maxErrorRatioIncrease: z.number().min(0).max(1).default(0.05),
          /** p95 latency may rise by at most this fraction of the baseline (0.2 = 20%). */
          maxLatencyIncrease: z.number().min(0).default(0.2),
        })
        .strict()
        .prefault(EVERY_KEY_DEFAULTED),
      /** When rollouts may change workloads (same forms as maintenance windows); none means any time. */
      windows: z.array(maintenanceWindowSchema).default([]),
      /** The daily scan of running images (imageScanWorkflow): which workloads, and whether it starts rollouts. */
      scan: z
        .object({
          workloads: z
            .array(
              z
                .object({
                  namespace: z.string().min(1),
                  deployment: z.string().min(1),
                  kind: z.enum(['Deployment', 'StatefulSet']).default('Deployment'),
                  container: z.string().min(1).optional(),
                })
                .strict(),
            )
            .default([]),
          /** Start a rollout when the newest tag fixes vulnerabilities at or above blockingSeverity and brings none. */
          autoRollout: z.boolean().default(true),
          /** Vulnerabilities at or above this in a running image are findings: one incident per workload and image. */
          findingSeverity: z.enum(VULNERABILITY_SEVERITIES).default('HIGH'),
          /** The severity of those incidents (a vulnerable image rarely warrants a page at night). */
          incidentSeverity: z.enum(SEVERITIES).default('medium'),
        })
        .strict()
        .prefault(EVERY_KEY_DEFAULTED),
      /** The rollout must complete within this, whatever the workload's own progress deadline. */
      rolloutTimeout: duration('15m'),
      /** After the rollout completes, the workload must stay healthy this long. */
      watchWindow: duration('5m'),
    })
    .strict()
    .prefault(EVERY_KEY_DEFAULTED),
};
