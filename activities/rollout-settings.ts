import type { Policy } from '../src/config/policy.js';

/** The policy's rollout settings, read by the rollout workflow at its start (workflows cannot read files). */
export function createRolloutSettingsActivities(deps: { policy: Pick<Policy, 'rollouts'> }) {
  return {
    async rolloutSettings() {
      const { scanner, approval, rolloutTimeout, watchWindow } = deps.policy.rollouts;
      return { blockingSeverity: scanner.blockingSeverity, approvalRequiredFor: approval.requiredFor, approvalTimeoutMs: approval.timeout, rolloutTimeoutMs: rolloutTimeout, watchWindowMs: watchWindow };
    },
  };
}
