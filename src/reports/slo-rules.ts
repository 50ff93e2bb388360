import type { Policy } from '../config/policy.js';

/**
 * Prometheus rules generated from the policy's SLOs: recording rules for the
 * share of bad requests over each window, and multi-window, multi-burn-rate
 * alerts as in the Google SRE workbook. A page when the budget burns 14.4x
 * too fast over 1 h (and still over 5 m) or 6x over 6 h (and 30 m); a ticket
 * at 3x over 1 d (and 2 h) or 1x over 3 d (and 6 h).
 */
const WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'] as const;

const PAGE = [
  { long: '1h', short: '5m', factor: 14.4 },
  { long: '6h', short: '30m', factor: 6 },
];
const TICKET = [
  { long: '1d', short: '2h', factor: 3 },
  { long: '3d', short: '6h', factor: 1 },
];

export interface RuleGroup {
  name: string;
  rules: Array<Record<string, unknown>>;
}

export function sloRuleGroups(policy: Pick<Policy, 'slos' | 'reports'>): { groups: RuleGroup[] } {
  const groups: RuleGroup[] = [];
  for (const slo of policy.slos) {
    const template = slo.kind === 'availability' ? policy.reports.queries.errorRatio : policy.reports.queries.slowRatio;
    const labels = { slo: slo.name, service: slo.service };
    const budget = Number((1 - slo.objective).toPrecision(12));
    const fill = (window: string) => template.replaceAll('$service', slo.service).replaceAll('$window', window).replaceAll('$threshold', String(slo.threshold ?? ''));
    const recorded = (window: string) => `slo:bad_ratio:rate${window}{slo="${slo.name}"}`;
    const burning = (pairs: typeof PAGE) =>
      pairs.map(({ long, short, factor }) => `(${recorded(long)} / ${budget} > ${factor} and ${recorded(short)} / ${budget} > ${factor})`).join('\n  or\n');
    const what = slo.kind === 'availability' ? 'requests answered with 5xx' : `requests slower than ${slo.threshold}s`;
    groups.push({
      name: `slo-${slo.name}`,
      rules: [
        ...WINDOWS.map((window) => ({ record: `slo:bad_ratio:rate${window}`, expr: fill(window), labels })),
        // The whole SLO window and the objective, for dashboards: budget left = 1 - bad / (1 - objective).
        { record: 'slo:bad_ratio:window', expr: fill(`${Math.round(slo.window / 86_400_000)}d`), labels },
        { record: 'slo:objective', expr: `vector(${slo.objective})`, labels },
        {
          alert: 'SLOBurnRateCritical',
          expr: burning(PAGE),
          for: '2m',
          labels: { priority: 'P0', severity: 'critical', objective: String(slo.objective) },
          annotations: {
            summary: `{{ $labels.slo }} burns its error budget {{ $value | printf "%.1f" }}x too fast: at this rate the ${Math.round(slo.window / 86_400_000)}d budget is gone within days`,
            description: `Share of ${what} over the objective's allowance (${budget}), over 1h and 5m or 6h and 30m.`,
          },
        },
        {
          alert: 'SLOBurnRateHigh',
          expr: burning(TICKET),
          for: '15m',
          labels: { priority: 'P1', severity: 'high', objective: String(slo.objective) },
          annotations: {
            summary: `{{ $labels.slo }} burns its error budget {{ $value | printf "%.1f" }}x too fast`,
            description: `Share of ${what} over the objective's allowance (${budget}), over 1d and 2h or 3d and 6h.`,
          },
        },
      ],
    });
  }
  return { groups };
}
