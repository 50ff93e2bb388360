import { onCallAt, type OnCallOverride, type OnCallSchedule } from './oncall.js';

/**
 * Who may approve a rollout: the people `rollouts.approval.approvers` names,
 * and whoever is on call for a schedule it names, at the moment of approval;
 * never the person who requested the rollout. No approvers: anyone but the
 * requester.
 */
export interface ApprovalRoster {
  people: string[];
  schedules: OnCallSchedule[];
  /** Run-time overrides of those schedules, read when the rollout began to wait. */
  overrides: Record<string, OnCallOverride[]>;
}

/** Why `by` may not approve, or undefined when they may. `what` is what waits for approval (a rollout, a restore). */
export function approvalRefusal(roster: ApprovalRoster | undefined, by: string, requestedBy: string, atMs: number, what = 'rollout'): string | undefined {
  if (by === requestedBy && requestedBy !== 'system') return `${by} requested this ${what}, and the person who requests a ${what} cannot approve it`;
  if (!roster || (roster.people.length === 0 && roster.schedules.length === 0)) return undefined;
  if (roster.people.includes(by)) return undefined;
  const onCall = roster.schedules.filter((schedule) => onCallAt(schedule, atMs, roster.overrides[schedule.name] ?? []).person === by);
  if (onCall.length > 0) return undefined;
  const allowed = [...roster.people, ...roster.schedules.map((schedule) => `whoever is on call for ${schedule.name}`)];
  return `${by} is not an approver (approvers: ${allowed.join(', ')})`;
}
