/**
 * Runbooks: the steps a remediation takes, the guardrail each action holds
 * per target, and how a step's parameters are filled from an alert's labels.
 * Pure, so the remediation workflow and the policy loader share it.
 */
import type { Labels } from './matchers.js';

export const REMEDIATION_ACTIONS = ['restart-pods', 'rolling-restart', 'scale', 'terminate-idle-connections', 'database-maintenance', 'http-check', 'notify'] as const;
export type RemediationAction = (typeof REMEDIATION_ACTIONS)[number];
/** Actions that change a system, and so hold a guardrail. */
export type GuardedAction = Exclude<RemediationAction, 'http-check' | 'notify'>;

export interface Guardrail {
  maxActions: number;
  windowMs: number;
  cooldownMs: number;
}

export interface HttpCheckSpec {
  url: string;
  expectStatus: number;
  bodyContains?: string;
  timeoutMs: number;
}

interface StepCommon {
  /** "<position>-<action>" unless the runbook names it. */
  name: string;
  dryRun: boolean;
}

export type RunbookStep = StepCommon &
  (
    | { action: 'restart-pods'; namespace: string; selector: string; onlyUnready: boolean; guardrail: Guardrail }
    | { action: 'rolling-restart'; namespace: string; deployment: string; kind: 'Deployment' | 'StatefulSet'; timeoutMs: number; guardrail: Guardrail }
    | { action: 'scale'; namespace: string; deployment: string; kind: 'Deployment' | 'StatefulSet'; by: number; min: number; max: number; guardrail: Guardrail }
    | { action: 'terminate-idle-connections'; database: string; idleForMs: number; guardrail: Guardrail }
    | { action: 'database-maintenance'; database: string; guardrail: Guardrail }
    | ({ action: 'http-check' } & HttpCheckSpec)
    | { action: 'notify'; text: string }
  );

export interface Runbook {
  name: string;
  description?: string;
  steps: RunbookStep[];
  verify: { alertResolved: boolean; httpCheck?: HttpCheckSpec; withinMs: number; intervalMs: number };
  holdEscalationMs: number;
  dryRun: boolean;
}

export type StepOutcome = 'done' | 'refused' | 'failed' | 'dry-run';

export interface StepResult {
  step: string;
  action: RemediationAction;
  target: string;
  outcome: StepOutcome;
  detail: string;
  at: string;
}

export type RemediationOutcome = 'resolved' | 'not-helped' | 'dry-run';

/** What a remediation tells its incident: each step as it ends, then how it ended. */
export type RemediationProgress =
  | { kind: 'step'; workflowId: string; runbook: string; result: StepResult }
  | { kind: 'finished'; workflowId: string; runbook: string; outcome: RemediationOutcome; escalate: boolean; detail: string };

/** The thing a step acts on, as audit targets name it; guardrails count per target. */
export function stepTarget(step: RunbookStep): string {
  switch (step.action) {
    case 'restart-pods':
      return `k8s/${step.namespace}/pods/${step.selector}`;
    case 'rolling-restart':
    case 'scale':
      return `k8s/${step.namespace}/${step.kind.toLowerCase()}/${step.deployment}`;
    case 'terminate-idle-connections':
    case 'database-maintenance':
      return `postgres/${step.database}`;
    case 'http-check':
      return step.url;
    case 'notify':
      return 'slack';
  }
}

/** The guardrail key: one action on one target, shared by every incident and health check. */
export function guardKey(action: GuardedAction | 'pod-delete' | 'memory-restart' | 'autoscale', target: string): string {
  return `${action}:${target}`;
}

const LABEL_REFERENCE = /\{\{\s*\$labels\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/**
 * Fills `{{ $labels.name }}` in every string of `value` from `labels`. A
 * label the alert does not carry is an error naming it, never an empty
 * string that would widen a selector.
 */
export function fillLabels<T>(value: T, labels: Labels, where = 'step'): T {
  if (typeof value === 'string') {
    return value.replace(LABEL_REFERENCE, (_whole, name: string) => {
      const label = labels[name];
      if (label === undefined || label === '') throw new Error(`${where} uses {{ $labels.${name} }}, and the alert has no label "${name}"`);
      return label;
    }) as T;
  }
  if (Array.isArray(value)) return value.map((item) => fillLabels(item, labels, where)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, fillLabels(inner, labels, `${where}.${key}`)])) as T;
  }
  return value;
}

/** The replica count a scale step aims for, or why it cannot move. */
export function scaleTarget(current: number, step: { by: number; min: number; max: number }): { to: number } | { refused: string } {
  const to = Math.min(step.max, Math.max(step.min, current + step.by));
  if (to === current) return { refused: step.by > 0 ? `already at the maximum of ${step.max} replicas` : `already at the minimum of ${step.min} replicas` };
  return { to };
}

/** One line for what a step will do, for dry runs and the timeline. */
export function describeStep(step: RunbookStep): string {
  switch (step.action) {
    case 'restart-pods':
      return `delete ${step.onlyUnready ? 'unready ' : ''}pods of ${step.selector} in ${step.namespace}`;
    case 'rolling-restart':
      return `rolling restart of ${step.kind} ${step.namespace}/${step.deployment}`;
    case 'scale':
      return `scale ${step.kind} ${step.namespace}/${step.deployment} by ${step.by > 0 ? '+' : ''}${step.by} within ${step.min}..${step.max}`;
    case 'terminate-idle-connections':
      return `terminate connections to ${step.database} idle for over ${Math.round(step.idleForMs / 1000)}s`;
    case 'database-maintenance':
      return `run database maintenance on ${step.database}`;
    case 'http-check':
      return `check that ${step.url} answers ${step.expectStatus}`;
    case 'notify':
      return `notify: ${step.text}`;
  }
}

export function remediationFailedDedupKey(runbook: string): string {
  return `remediation-failed-${runbook}`;
}
