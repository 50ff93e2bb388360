import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { createRaiseIncidentActivities } from '../activities/raise-incident.js';
import type { Labels } from '../src/domain/alerts.js';
import { notification } from './activity-profiles.js';

/**
 * An incident our own workflow raises about a condition it watches (a backup
 * that failed, a database over its thresholds, self-healing out of attempts, a
 * rollout rolled back): raised while the condition holds, cleared when the
 * next run finds it over. Both go the webhook's path (the incident's `alerts`
 * signal), so these incidents group, escalate and resolve like any other.
 */
export interface WatchedCondition {
  /** The incident's dedup key, one per condition (`backup-failed-orders`). */
  dedupKey: string;
  labels: Labels & { alertname: string };
}

export interface OwnIncident {
  /** Fires the condition's alert; returns the incident's workflow ID. */
  raise(annotations: Labels & { summary: string }): Promise<string>;
  /** Resolves the alert in its incident, when one is open; never opens one. */
  clear(summary: string): Promise<void>;
}

type RaiseIncidentActivities = ReturnType<typeof createRaiseIncidentActivities>;

/** `clearProfile`: the activity options of the clearing call, when they differ from raising's (a notification). */
export function ownIncident(condition: WatchedCondition, clearProfile: ActivityOptions = notification): OwnIncident {
  return {
    async raise(annotations) {
      const { incident } = await proxyActivities<RaiseIncidentActivities>(notification).raiseIncident({ ...condition, annotations, startsAt: new Date().toISOString() });
      return incident;
    },
    async clear(summary) {
      await proxyActivities<RaiseIncidentActivities>(clearProfile).clearIncident({ ...condition, annotations: { summary }, endsAt: new Date().toISOString() });
    },
  };
}
