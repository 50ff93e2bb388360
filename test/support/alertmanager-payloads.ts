/** An Alertmanager webhook payload as Alertmanager 0.25 sends it. */
export function alertmanagerPayload(groupKey: string, alerts: Array<{ fingerprint: string; status?: 'firing' | 'resolved'; labels?: Record<string, string>; startsAt?: string }>, extra: Record<string, unknown> = {}) {
  const rendered = alerts.map((alert) => ({
    status: alert.status ?? 'firing',
    labels: { alertname: 'HighErrorRate', service: 'checkout', severity: 'critical', ...alert.labels },
    annotations: { summary: 'Checkout error ratio above 5%' },
    startsAt: alert.startsAt ?? '2026-11-23T10:00:00.000Z',
    endsAt: alert.status === 'resolved' ? '2026-11-23T10:05:00.000Z' : '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph?g0.expr=errors',
    fingerprint: alert.fingerprint,
  }));
  return {
    receiver: 'ops-automation',
    status: rendered.some((alert) => alert.status === 'firing') ? 'firing' : 'resolved',
    alerts: rendered,
    groupLabels: { alertname: 'HighErrorRate' },
    commonLabels: { alertname: 'HighErrorRate' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager-a:9093',
    version: '4',
    groupKey,
    truncatedAlerts: 0,
    ...extra,
  };
}
