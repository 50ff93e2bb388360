import { z } from 'zod';
import { duration } from './policy-incidents.js';

/**
 * The policy file's `environments` section: which deployments belong to each
 * environment (namespaces, a label selector, or both), how often the
 * deployment monitor looks at them, the thresholds their health score is
 * judged by, the URLs it probes, and how long its checks are kept.
 */
const EVERY_KEY_DEFAULTED = {} as never;
const ratio = z.number().gt(0).max(1);

const environment = z
  .object({
    namespaces: z.array(z.string().min(1)).default([]),
    /** A Kubernetes label selector on the Deployments (`tier=web,team in (shop)`). */
    selector: z.string().min(1).optional(),
    /** How often the monitor checks this environment (its schedule). */
    interval: duration('1m'),
    thresholds: z
      .object({
        /** Ready replicas over desired below this costs readiness points. */
        readyRatio: ratio.default(0.9),
        /** Container restarts of the running pods at or above this cost all restart points. */
        restarts: z.number().int().min(1).default(5),
        /** A probe slower than this costs response points (all of them at twice this). */
        responseSeconds: z.number().gt(0).default(1),
        /** CPU and memory use over limits (requests when there is no limit) above these cost points. */
        cpu: ratio.default(0.8),
        memory: ratio.default(0.8),
      })
      .strict()
      .prefault(EVERY_KEY_DEFAULTED),
    /** An HTTP URL per deployment (`<namespace>/<name>`) whose GET is timed as its response time. */
    probes: z.record(z.string().regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, 'expected <namespace>/<deployment>'), z.url()).default({}),
    /** PromQL for each deployment's CPU cores and memory bytes in use ($namespace and $deployment are filled in). */
    queries: z
      .object({
        cpu: z.string().min(1).default('sum(rate(container_cpu_usage_seconds_total{namespace="$namespace",pod=~"$deployment-[a-z0-9]+-[a-z0-9]+",container!=""}[5m]))'),
        memory: z.string().min(1).default('sum(container_memory_working_set_bytes{namespace="$namespace",pod=~"$deployment-[a-z0-9]+-[a-z0-9]+",container!=""})'),
      })
      .strict()
      .prefault(EVERY_KEY_DEFAULTED),
    /** How long the monitor's checks of this environment are kept (for `opsctl monitor report`). */
    retention: duration('30d'),
  })
  .strict()
  .refine((value) => value.namespaces.length > 0 || value.selector !== undefined, { message: 'give namespaces, a selector, or both' });

export const environmentPolicySection = {
  environments: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'expected lower-case letters, digits or "-" (it names schedules and workflow IDs)'), environment).default({}),
};

export type EnvironmentPolicy = z.infer<typeof environment>;
