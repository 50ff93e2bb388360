import type { Policy } from '../src/config/policy.js';

/** The policy's rollout settings, read by the rollout workflow at its start (workflows cannot read files). */
export function createRolloutSettingsActivities(deps: { policy: Pick<Policy, 'rollouts'>; slack?: unknown }) {
  return {
    async rolloutSettings(): Promise<{
      blockingSeverity: Policy['rollouts']['scanner']['blockingSeverity'];
      approvalRequiredFor: Policy['rollouts']['approval']['requiredFor'];
      approvalTimeoutMs: number;
      rolloutTimeoutMs: number;
      watchWindowMs: number;
      /** Absent in results recorded before analysis existed. */
      analysis?: Policy['rollouts']['analysis'];
      /** Whether steps go to a Slack thread (SLACK_TOKEN set); absent in older results. */
      slack?: boolean;
    }> {
      const { scanner, approval, rolloutTimeout, watchWindow, analysis } = deps.policy.rollouts;
      return {
        blockingSeverity: scanner.blockingSeverity,
        approvalRequiredFor: approval.requiredFor,
        approvalTimeoutMs: approval.timeout,
        rolloutTimeoutMs: rolloutTimeout,
        watchWindowMs: watchWindow,
        analysis,
        slack: deps.slack !== undefined,
      };
    },
  };
}
