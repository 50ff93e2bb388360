import { ApplicationFailure } from '@temporalio/activity';
import type { Policy } from '../src/config/policy.js';
import type { RunbookStepPolicy } from '../src/config/policy-remediation.js';
import { ErrorType } from '../src/domain/errors.js';
import type { CpuSettings, MemorySettings } from '../src/domain/health-check.js';
import { matchesAll, type Labels } from '../src/domain/matchers.js';
import { fillLabels, type GuardedAction, type Guardrail, type Runbook, type RunbookStep } from '../src/domain/remediation.js';

/**
 * The policy's runbooks and health-check settings, read by workflows through
 * activities (workflows cannot read files): a runbook comes back with its
 * label references filled in and its guardrails resolved, so the history
 * records exactly what ran.
 */
export interface RemediationSettingsDeps {
  policy: Pick<Policy, 'remediation' | 'healthCheck'>;
}

export interface HealthCheckSettings {
  targets: Array<{ namespace: string; deployment: string; minReplicas: number; maxReplicas: number }>;
  pods: { notReadyForMs: number; maxDeletes: number; windowMs: number };
  cpu: CpuSettings & { query?: string };
  memory: MemorySettings & { query?: string; maxRestarts: number; windowMs: number };
}

export function createRemediationSettingsActivities(deps: RemediationSettingsDeps) {
  const { remediation } = deps.policy;

  function guardrailFor(action: GuardedAction, override: RunbookStepPolicy['guardrail']): Guardrail {
    const defaults = remediation.guardrails[action];
    return {
      maxActions: override?.maxActions ?? defaults.maxActions,
      windowMs: override?.window ?? defaults.window,
      cooldownMs: override?.cooldown ?? defaults.cooldown,
    };
  }

  /** A policy step in the domain's terms: its name, durations in ms, and its guardrail resolved. */
  function resolveStep(step: RunbookStepPolicy, index: number): RunbookStep {
    const { guardrail: override, name, ...params } = step;
    const common = { name: name ?? `${index + 1}-${step.action}`, dryRun: step.dryRun };
    switch (params.action) {
      case 'http-check': {
        const { timeout, ...rest } = params;
        return { ...rest, ...common, timeoutMs: timeout };
      }
      case 'notify':
        return { ...params, ...common };
      case 'rolling-restart': {
        const { timeout, ...rest } = params;
        return { ...rest, ...common, timeoutMs: timeout, guardrail: guardrailFor(params.action, override) };
      }
      case 'terminate-idle-connections': {
        const { idleFor, ...rest } = params;
        return { ...rest, ...common, idleForMs: idleFor, guardrail: guardrailFor(params.action, override) };
      }
      default:
        return { ...params, ...common, guardrail: guardrailFor(params.action, override) };
    }
  }

  return {
    /** The runbook `name` with `{{ $labels.x }}` filled from `labels`; unknown names and missing labels are final errors. */
    async loadRunbook(input: { name: string; labels?: Labels }): Promise<Runbook> {
      const runbook = remediation.runbooks.find((entry) => entry.name === input.name);
      if (!runbook) {
        const known = remediation.runbooks.map((entry) => entry.name).join(', ') || 'none';
        throw ApplicationFailure.nonRetryable(`no runbook named "${input.name}" in the policy (runbooks: ${known})`, ErrorType.NotFound);
      }
      let steps: RunbookStep[];
      let check = runbook.verify.httpCheck;
      try {
        steps = runbook.steps.map((step, index) => fillLabels(resolveStep(step, index), input.labels ?? {}, `runbook ${runbook.name} step ${index + 1}`));
        if (check) check = fillLabels(check, input.labels ?? {}, `runbook ${runbook.name} verify.httpCheck`);
      } catch (error) {
        throw ApplicationFailure.nonRetryable((error as Error).message, ErrorType.InvalidInput);
      }
      return {
        name: runbook.name,
        ...(runbook.description ? { description: runbook.description } : {}),
        steps,
        verify: {
          alertResolved: runbook.verify.alertResolved,
          ...(check ? { httpCheck: { url: check.url, expectStatus: check.expectStatus, timeoutMs: check.timeout, ...(check.bodyContains !== undefined ? { bodyContains: check.bodyContains } : {}) } } : {}),
          withinMs: runbook.verify.within,
          intervalMs: runbook.verify.interval,
        },
        holdEscalationMs: runbook.holdEscalation,
        dryRun: runbook.dryRun,
      };
    },

    /** The runbooks that answer an alert with these labels, in policy order, leaving out those already started. */
    async planRemediation(input: { labels: Labels[]; started: string[] }): Promise<Array<{ runbook: string; labels: Labels; holdEscalationMs: number }>> {
      const plans: Array<{ runbook: string; labels: Labels; holdEscalationMs: number }> = [];
      for (const runbook of remediation.runbooks) {
        if (runbook.match.length === 0 || input.started.includes(runbook.name)) continue;
        const labels = input.labels.find((candidate) => matchesAll(runbook.match, candidate));
        if (labels) plans.push({ runbook: runbook.name, labels, holdEscalationMs: runbook.holdEscalation });
      }
      return plans;
    },

    async healthCheckSettings(): Promise<HealthCheckSettings> {
      const { targets, pods, cpu, memory } = deps.policy.healthCheck;
      return {
        targets: targets.map((target) => ({
          namespace: target.namespace,
          deployment: target.deployment,
          minReplicas: target.minReplicas ?? cpu.minReplicas,
          maxReplicas: target.maxReplicas ?? cpu.maxReplicas,
        })),
        pods: { notReadyForMs: pods.notReadyFor, maxDeletes: pods.maxDeletes, windowMs: pods.window },
        cpu,
        memory: { ...(memory.query ? { query: memory.query } : {}), maxGrowthPerHour: memory.maxGrowthPerHour, over: memory.over, maxRestarts: memory.maxRestarts, windowMs: memory.window },
      };
    },
  };
}
