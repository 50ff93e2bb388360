import type pg from 'pg';
import type { Policy } from '../src/config/policy.js';
import { listOverrides } from '../src/db/oncall-overrides.js';
import type { ApprovalRoster } from '../src/domain/approval.js';
import { nextOpening, windowIsOpen } from '../src/domain/muting.js';

/** The policy's rollout settings, read by the rollout workflow at its start (workflows cannot read files). */
export function createRolloutSettingsActivities(deps: { policy: Pick<Policy, 'rollouts' | 'oncall'>; slack?: unknown; pool?: pg.Pool }) {
  return {
    /** Who may approve, read when a rollout starts to wait for approval: people, and schedules with their overrides. */
    async approvalRoster(): Promise<ApprovalRoster> {
      const { approvers } = deps.policy.rollouts.approval;
      const schedules = approvers.flatMap((entry) => (typeof entry === 'object' && deps.policy.oncall.schedules[entry.schedule] ? [deps.policy.oncall.schedules[entry.schedule]!] : []));
      const overrides: ApprovalRoster['overrides'] = {};
      for (const schedule of schedules) overrides[schedule.name] = deps.pool ? await listOverrides(deps.pool, schedule.name, Date.now()) : [];
      return { people: approvers.filter((entry): entry is string => typeof entry === 'string'), schedules, overrides };
    },

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
      /** How many rollout windows the policy has; absent in older results. */
      windows?: number;
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
        windows: deps.policy.rollouts.windows.length,
      };
    },

    /** What the daily image scan looks at, and whether it may start rollouts. */
    async imageScanSettings(): Promise<{ workloads: Policy['rollouts']['scan']['workloads']; autoRollout: boolean; blockingSeverity: Policy['rollouts']['scanner']['blockingSeverity'] }> {
      const { scan, scanner } = deps.policy.rollouts;
      return { workloads: scan.workloads, autoRollout: scan.autoRollout, blockingSeverity: scanner.blockingSeverity };
    },

    /** Whether a rollout window is open at `at`, and if not, when the next one opens (within 14 days). */
    async rolloutWindow(input: { at: string }): Promise<{ open: boolean; opensAt?: string; windows: string[] }> {
      const { windows } = deps.policy.rollouts;
      const at = Date.parse(input.at);
      const names = windows.map((window) => window.name);
      if (windows.length === 0 || windows.some((window) => windowIsOpen(window, at))) return { open: true, windows: names };
      const opening = nextOpening(windows, at);
      return { open: false, ...(opening !== undefined ? { opensAt: new Date(opening).toISOString() } : {}), windows: names };
    },
  };
}
