import type pg from 'pg';
import type { Policy } from '../src/config/policy.js';
import { listOverrides } from '../src/db/oncall-overrides.js';
import type { ChannelTarget, PageTarget } from '../src/domain/escalation.js';
import { onCallAt, type OnCallOverride, type OnCallPerson } from '../src/domain/oncall.js';

/**
 * Turns the people targets of a ladder (`schedule`, `person`) into the
 * channels to page, when the level fires: the schedule from the policy, its
 * run-time overrides from PostgreSQL. With the database down the policy alone
 * decides, and the answer says so: a page must not wait on our own store.
 */

export interface OnCallDeps {
  pool: pg.Pool;
  policy: Policy;
}

export interface TargetResolution {
  /** The person paged, or null when nobody is on call (or the person has no contact method). */
  person: string | null;
  /** Why this person: "on call for primary (layer 1)", "on call for primary (override)", "named in the policy". */
  reason: string;
  targets: ChannelTarget[];
  phone?: string;
}

/** How long a level waits for the overrides before paging by the policy alone. */
const OVERRIDES_TIMEOUT_MS = 3000;

/** The channels a person is reached through, in the order they are written. */
export function contactTargets(person: OnCallPerson): ChannelTarget[] {
  return [
    ...(person.slack ? [{ type: 'slack' as const, mention: `<@${person.slack}>` }] : []),
    ...(person.email ? [{ type: 'email' as const, to: [person.email] }] : []),
    ...(person.pagerduty ? [{ type: 'pagerduty' as const, ...(person.pagerduty.routingKeyEnv ? { routingKeyEnv: person.pagerduty.routingKeyEnv } : {}) }] : []),
    ...(person.webhook ? [{ type: 'webhook' as const, ...person.webhook, ...(person.phone ? { phone: person.phone } : {}) }] : []),
  ];
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms}ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export function createOnCallActivities(deps: OnCallDeps) {
  const { oncall } = deps.policy;
  /**
   * One read of a schedule's overrides in flight at a time: the levels of many
   * ladders that fire together share it (an alert storm pages hundreds at once)
   * instead of queueing for the pool. A read that starts later starts anew.
   */
  const reading = new Map<string, Promise<OnCallOverride[]>>();
  const overridesOf = (schedule: string, atMs: number): Promise<OnCallOverride[]> => {
    let read = reading.get(schedule);
    if (!read) {
      // From a minute back: a level a little late still sees overrides that began before it was due.
      read = withTimeout(listOverrides(deps.pool, schedule, atMs - 60_000), OVERRIDES_TIMEOUT_MS).finally(() => reading.delete(schedule));
      reading.set(schedule, read);
    }
    return read;
  };

  function reach(id: string, reason: string): TargetResolution {
    const person = oncall.people[id];
    if (!person) return { person: id, reason: `${reason}; ${id} is not in oncall.people, so has no contact method`, targets: [] };
    const targets = contactTargets(person);
    return { person: id, reason: targets.length > 0 ? reason : `${reason}; ${id} has no contact method`, targets, ...(person.phone ? { phone: person.phone } : {}) };
  }

  return {
    /** Who a `schedule` or `person` target pages at `atMs` (the level's firing time), through which channels. */
    async resolvePageTarget(input: { target: Extract<PageTarget, { type: 'schedule' | 'person' }>; atMs: number }): Promise<TargetResolution> {
      const { target, atMs } = input;
      if (target.type === 'person') return reach(target.person, 'named in the policy');
      const schedule = oncall.schedules[target.schedule];
      if (!schedule) return { person: null, reason: `no schedule named "${target.schedule}"`, targets: [] };
      let overrides: OnCallOverride[] = [];
      let caveat = '';
      try {
        overrides = await overridesOf(schedule.name, atMs);
      } catch (error) {
        caveat = `; run-time overrides unavailable (${(error as Error).message}), decided by the policy alone`;
      }
      const answer = onCallAt(schedule, atMs, overrides);
      if (answer.person === null) return { person: null, reason: `nobody is on call for ${schedule.name}${caveat}`, targets: [] };
      return reach(answer.person, `on call for ${schedule.name} (${answer.source})${caveat}`);
    },
  };
}
