import type { Labels } from './matchers.js';

export type { Labels } from './matchers.js';

/** Where an alert came from: a webhook, or ops-automation's own workflows ("ops"). */
export type AlertSource = 'alertmanager' | 'events' | 'ops';

/**
 * One alert as the intake hands it to an incident, whatever its sender: the
 * fingerprint identifies it within its incident, startsAt identifies one
 * firing of it (a later firing has a later startsAt).
 */
export interface IncomingAlert {
  fingerprint: string;
  status: 'firing' | 'resolved';
  labels: Labels;
  annotations: Labels;
  /** RFC 3339; absent for an event that resolves whatever is firing. */
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

/** What one delivery brings to one incident: the `alerts` signal's payload. */
export interface AlertBatch {
  source: AlertSource;
  /** When the intake received the delivery (RFC 3339). */
  receivedAt: string;
  alerts: IncomingAlert[];
  /** An event's acknowledge action: acknowledges the incident as this actor. */
  acknowledgeBy?: string;
  /** Alertmanager's externalURL and receiver, for links. */
  externalURL?: string;
  receiver?: string;
  /**
   * Alertmanager's group as a whole: its status, its group labels, and how
   * many alerts `max_alerts` left out of this notification. A group whose
   * notification says resolved has resolved, listed alerts or not.
   */
  group?: { status: 'firing' | 'resolved'; labels: Labels; truncatedAlerts: number };
}

/** The human title of an alert: its summary, else its alertname. */
export function alertTitle(alert: Pick<IncomingAlert, 'labels' | 'annotations'>): string {
  return (
    alert.annotations.summary ??
    alert.annotations.title ??
    alert.annotations.description ??
    alert.labels.alertname ??
    'alert'
  );
}

/** The service an alert is about, from the conventional labels. */
export function alertService(labels: Labels): string | undefined {
  return labels.service ?? labels.app ?? labels['app.kubernetes.io/name'] ?? labels.job;
}
