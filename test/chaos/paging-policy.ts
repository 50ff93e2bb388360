/**
 * The policy of the chaos run and the scale-out test: a schedule rotating
 * three people every minute, each reachable on Slack, email, PagerDuty and a
 * webhook, and a ladder of `levels` levels of `levelSeconds` that pages
 * whoever is on call at each. Every level of every incident therefore pages
 * all four channels once, which is what the invariants count.
 */
export const PEOPLE = ['ada', 'bea', 'cy'];

export function pagingPolicyYaml(options: { webhookUrl: string; levels: number; levelSeconds: number; extra?: string[] }): string {
  return [
    'version: 1',
    'incidents:',
    '  quietPeriod: 30m',
    'oncall:',
    '  people:',
    ...PEOPLE.map((person, index) => `    ${person}: { name: ${person}, slack: U0CHAOS00${index}, email: ${person}@example.com, pagerduty: {}, webhook: { url: "${options.webhookUrl}" } }`),
    '  schedules:',
    '    chaos:',
    '      timeZone: UTC',
    `      layers: [{ people: [${PEOPLE.join(', ')}], start: "${new Date(Date.now() - 3_600_000).toISOString().slice(0, 16)}", shift: 1m }]`,
    'escalation:',
    '  defaultPolicy: chaos',
    '  policies:',
    '    - name: chaos',
    '      levels:',
    ...Array.from({ length: options.levels }, () => [`        - timeout: ${options.levelSeconds}s`, '          targets: [{ type: schedule, schedule: chaos }]']).flat(),
    ...(options.extra ?? []),
    '',
  ].join('\n');
}
