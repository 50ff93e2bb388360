import type { Policy } from '../src/config/policy.js';

/** The policy's rollout settings, read by the rollout workflow at its start (workflows cannot read files). */
export function createRolloutSettingsActivities(deps: { policy: Pick<Policy, 'rollouts'> }) {
  return {
    async rolloutSettings(): Promise<{
      blockingSeverity: Policy['rollouts']['scanner']['blockingSeverity'];
      approvalRequiredFor: Policy['rollouts']['approval']['requiredFor'];
      approvalTimeoutMs: number;
      rolloutTimeoutMs: number;
      watchWindowMs: number;
      /** Absent in results recorded before analysis existed. */
      analysis?: Policy['rollouts']['analysis'];
    }> {
      const { scanner, approval, rolloutTimeout, watchWindow, analysis } = deps.policy.rollouts;
      return {
        blockingSeverity: scanner.blockingSeverity,
        approvalRequiredFor: approval.requiredFor,
        approvalTimeoutMs: approval.timeout,
        rolloutTimeoutMs: rolloutTimeout,
        watchWindowMs: watchWindow,
        analysis,
      };
    },
  };
}
