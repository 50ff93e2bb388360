import { createHash } from 'node:crypto';
import { alertmanagerPayload } from '../support/alertmanager-payloads.js';

/**
 * The chaos run's steady alert stream, sent the way Alertmanager and an
 * Events v2 sender do: every delivery the intake does not answer with a 2xx
 * (503 while Temporal is down, a refused connection) is retried until it is,
 * so "accepted" means what a sender believes, and the run checks that each
 * accepted alert is in exactly one incident.
 *
 * Alerts come in groups of three: even groups as one Alertmanager group
 * (each notification carries the group's alerts so far, like Alertmanager),
 * odd groups as three triggers of one Events v2 dedup_key (one alert,
 * fingerprinted by its key).
 */
export interface StreamedAlert {
  index: number;
  group: number;
  via: 'alertmanager' | 'events';
  /** The alert's identity in the incident: Alertmanager's fingerprint, or the event's dedup_key. */
  fingerprint: string;
  acceptedAt?: number;
  attempts: number;
  /** A final refusal (4xx other than 408/429), with its body. */
  refused?: string;
}

export const GROUP_SIZE = 3;

export class AlertStream {
  readonly alerts: StreamedAlert[] = [];
  private readonly deliveries: Promise<void>[] = [];
  private stopped = false;

  private readonly intakeUrls: string[];

  /** With several intake URLs, alerts go round-robin and each retry goes to the next one, as a load balancer would. */
  constructor(
    intakeUrl: string | string[],
    private readonly token: string,
    private readonly retryUntil: () => number,
  ) {
    this.intakeUrls = [intakeUrl].flat();
  }

  /** Sends one new alert every `intervalMs` until `durationMs` has passed. */
  async run(intervalMs: number, durationMs: number): Promise<void> {
    const end = Date.now() + durationMs;
    for (let index = 0; Date.now() < end && !this.stopped; index += 1) {
      this.deliveries.push(this.send(index));
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  /** Resolves once every delivery was accepted, refused, or gave up at retryUntil. */
  async settled(): Promise<void> {
    await Promise.all(this.deliveries);
  }

  private async send(index: number): Promise<void> {
    const group = Math.floor(index / GROUP_SIZE);
    const via = group % 2 === 0 ? 'alertmanager' : 'events';
    const fingerprint = via === 'alertmanager' ? createHash('sha256').update(`chaos-${index}`).digest('hex').slice(0, 16) : `chaos-ev-${group}`;
    const alert: StreamedAlert = { index, group, via, fingerprint, attempts: 0 };
    this.alerts.push(alert);
    const labels = { alertname: 'ChaosAlert', service: `svc-${group % 7}`, severity: 'critical', chaos_group: String(group) };
    const [path, body] =
      via === 'alertmanager'
        ? [
            '/webhooks/alertmanager',
            alertmanagerPayload(
              `{}/{chaos_group="${group}"}:{alertname="ChaosAlert"}`,
              this.alerts.filter((other) => other.group === group).map((other) => ({ fingerprint: other.fingerprint, labels: { ...labels, chaos_alert: String(other.index) } })),
              { groupLabels: { alertname: 'ChaosAlert', chaos_group: String(group) }, commonLabels: labels },
            ),
          ]
        : [
            '/webhooks/events',
            {
              event_action: 'trigger',
              dedup_key: fingerprint,
              payload: { summary: `Chaos event ${group}`, source: 'chaos', severity: 'critical', group: `svc-${group % 7}`, custom_details: { chaos_alert: index } },
            },
          ];
    while (Date.now() < this.retryUntil()) {
      alert.attempts += 1;
      const intakeUrl = this.intakeUrls[(index + alert.attempts - 1) % this.intakeUrls.length];
      try {
        const response = await fetch(`${intakeUrl}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        const text = await response.text();
        if (response.ok) {
          alert.acceptedAt = Date.now();
          return;
        }
        if (response.status < 500 && response.status !== 408 && response.status !== 429) {
          alert.refused = `${response.status} ${text.slice(0, 200)}`;
          return;
        }
      } catch {
        // Connection refused or timed out: retried, as a sender does.
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  stop(): void {
    this.stopped = true;
  }
}
