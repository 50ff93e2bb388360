import { z } from 'zod';
import { REMEDIATION_ACTIONS, type GuardedAction } from '../domain/remediation.js';
import { duration, matchers } from './policy-incidents.js';

/**
 * The policy file's `remediation` (runbooks and their guardrails) and
 * `healthCheck` (self-healing of the listed workloads) sections. String
 * parameters of a runbook step may name the alert's labels as
 * `{{ $labels.namespace }}`, filled in when the runbook runs.
 */
const EVERY_KEY_DEFAULTED = {} as never;

const guardrail = z
  .object({
    /** At most this many actions on one target within `window`. */
    maxActions: z.number().int().min(1),
    window: duration(),
    /** At least this long between two actions on one target. */
    cooldown: duration('0s'),
  })
  .strict();

const guardrailOverride = z.object({ maxActions: z.number().int().min(1).optional(), window: duration().optional(), cooldown: duration().optional() }).strict();

const common = {
  /** A name for the timeline; default "<position>-<action>". */
  name: z.string().min(1).optional(),
  /** Report what the step would do, and do nothing. */
  dryRun: z.boolean().default(false),
  /** Overrides the action's default guardrail for this step. */
  guardrail: guardrailOverride.optional(),
};

const httpCheck = z
  .object({
    url: z.string().min(1),
    expectStatus: z.number().int().min(100).max(599).default(200),
    /** The body must contain this text, when given. */
    bodyContains: z.string().optional(),
    timeout: duration('5s'),
  })
  .strict();

const step = z.discriminatedUnion(
  'action',
  [
    z.object({ action: z.literal('restart-pods'), namespace: z.string().min(1), selector: z.string().min(1), onlyUnready: z.boolean().default(true), ...common }).strict(),
    z
      .object({
        action: z.literal('rolling-restart'),
        namespace: z.string().min(1),
        deployment: z.string().min(1),
        kind: z.enum(['Deployment', 'StatefulSet']).default('Deployment'),
        timeout: duration('10m'),
        ...common,
      })
      .strict(),
    z
      .object({
        action: z.literal('scale'),
        namespace: z.string().min(1),
        deployment: z.string().min(1),
        kind: z.enum(['Deployment', 'StatefulSet']).default('Deployment'),
        by: z.number().int().refine((value) => value !== 0, 'must not be 0'),
        min: z.number().int().min(0).default(1),
        max: z.number().int().min(1).default(10),
        ...common,
      })
      .strict(),
    z.object({ action: z.literal('terminate-idle-connections'), database: z.string().min(1).default('default'), idleFor: duration('10m'), ...common }).strict(),
    z.object({ action: z.literal('database-maintenance'), database: z.string().min(1).default('default'), ...common }).strict(),
    z.object({ action: z.literal('http-check'), ...httpCheck.shape, ...common }).strict(),
    z.object({ action: z.literal('notify'), text: z.string().min(1), ...common }).strict(),
  ],
  { error: `expected action to be one of ${REMEDIATION_ACTIONS.join(', ')}` },
);

export type RunbookStepPolicy = z.infer<typeof step>;

const runbook = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'expected lower-case letters, digits and dashes'),
    description: z.string().optional(),
    /** Alerts this runbook answers (all matchers must hold); empty = started by hand only. */
    match: matchers,
    steps: z.array(step).min(1),
    verify: z
      .object({
        /** The incident's alerts must have resolved (only when run for an incident). */
        alertResolved: z.boolean().default(true),
        httpCheck: httpCheck.optional(),
        within: duration('5m'),
        interval: duration('15s'),
      })
      .strict()
      .prefault(EVERY_KEY_DEFAULTED),
    /** How long the incident holds its escalation while this runbook works; 0 pages at once. */
    holdEscalation: duration('10m'),
    dryRun: z.boolean().default(false),
  })
  .strict();

export type RunbookPolicy = z.infer<typeof runbook>;

const DEFAULT_GUARDRAILS = {
  'restart-pods': { maxActions: 3, window: '10m', cooldown: '0s' },
  'rolling-restart': { maxActions: 2, window: '1h', cooldown: '10m' },
  scale: { maxActions: 5, window: '1h', cooldown: '5m' },
  'terminate-idle-connections': { maxActions: 3, window: '1h', cooldown: '5m' },
  'database-maintenance': { maxActions: 1, window: '6h', cooldown: '0s' },
} satisfies Record<GuardedAction, { maxActions: number; window: string; cooldown: string }>;

export const remediationPolicySections = {
  remediation: z
    .object({
      /** Per action: the limit that holds for each target across incidents and restarts. */
      guardrails: z
        .object({
          'restart-pods': guardrail.prefault(DEFAULT_GUARDRAILS['restart-pods']),
          'rolling-restart': guardrail.prefault(DEFAULT_GUARDRAILS['rolling-restart']),
          scale: guardrail.prefault(DEFAULT_GUARDRAILS.scale),
          'terminate-idle-connections': guardrail.prefault(DEFAULT_GUARDRAILS['terminate-idle-connections']),
          'database-maintenance': guardrail.prefault(DEFAULT_GUARDRAILS['database-maintenance']),
        })
        .strict()
        .prefault(EVERY_KEY_DEFAULTED),
      runbooks: z
        .array(runbook)
        .default([])
        .refine((list) => new Set(list.map((entry) => entry.name)).size === list.length, 'runbook names must be unique'),
    })
    .strict()
    .prefault(EVERY_KEY_DEFAULTED),

  healthCheck: z
    .object({
      targets: z
        .array(
          z
            .object({
              namespace: z.string().min(1),
              deployment: z.string().min(1),
              minReplicas: z.number().int().min(1).optional(),
              maxReplicas: z.number().int().min(1).optional(),
            })
            .strict(),
        )
        .default([]),
      pods: z
        .object({ notReadyFor: duration('5m'), maxDeletes: z.number().int().min(1).default(3), window: duration('10m') })
        .strict()
        .prefault(EVERY_KEY_DEFAULTED),
      cpu: z
        .object({
          /** PromQL giving the workload's CPU use as a fraction of its requests, with $namespace and $workload filled in. */
          query: z.string().min(1).optional(),
          scaleUpAbove: z.number().positive().default(0.8),
          scaleUpFor: duration('10m'),
          scaleDownBelow: z.number().min(0).default(0.3),
          scaleDownFor: duration('30m'),
          minReplicas: z.number().int().min(1).default(2),
          maxReplicas: z.number().int().min(1).default(10),
        })
        .strict()
        .prefault(EVERY_KEY_DEFAULTED),
      memory: z
        .object({
          /** PromQL giving the workload's memory in bytes, with $namespace and $workload filled in. */
          query: z.string().min(1).optional(),
          /** Bytes per hour; 10 MB by default. */
          maxGrowthPerHour: z.number().positive().default(10_000_000),
          over: duration('4h'),
          maxRestarts: z.number().int().min(1).default(2),
          window: duration('24h'),
        })
        .strict()
        .prefault(EVERY_KEY_DEFAULTED),
    })
    .strict()
    .prefault(EVERY_KEY_DEFAULTED),
};
