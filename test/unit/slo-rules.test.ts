import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sloRulesYaml } from '../../src/cli/commands/slo.js';
import { loadPolicy, parsePolicy } from '../../src/config/policy.js';
import { sloRuleGroups } from '../../src/reports/slo-rules.js';

describe('SLO burn-rate rules', () => {
  it('deploy/ ships exactly what `opsctl slo rules` generates from the example policy', () => {
    const policy = loadPolicy(fileURLToPath(new URL('../../deploy/policy.example.yaml', import.meta.url)));
    expect(readFileSync(fileURLToPath(new URL('../../deploy/prometheus/rules/slo.rules.yml', import.meta.url)), 'utf8')).toBe(sloRulesYaml(policy));
  });

  it('fill the policy query templates and page at 14.4x over 1h and 6x over 6h of the allowance', () => {
    const policy = parsePolicy({ slos: [{ name: 'checkout-latency', service: 'checkout', kind: 'latency', threshold: 0.25, objective: 0.995, window: '28d' }] }, 'test');
    const [group] = sloRuleGroups(policy).groups;
    expect(group!.rules.filter((rule) => rule.record).map((rule) => rule.record)).toEqual([
      ...['5m', '30m', '1h', '2h', '6h', '1d', '3d'].map((window) => `slo:bad_ratio:rate${window}`),
      'slo:bad_ratio:window',
      'slo:objective',
    ]);
    expect(group!.rules.find((rule) => rule.record === 'slo:bad_ratio:window')!.expr).toContain('[28d]');
    expect(group!.rules.find((rule) => rule.record === 'slo:objective')).toEqual({ record: 'slo:objective', expr: 'vector(0.995)', labels: { slo: 'checkout-latency', service: 'checkout' } });
    expect(group!.rules[2]!.expr).toBe(
      '1 - sum(increase(http_request_duration_seconds_bucket{service="checkout",le="0.25"}[1h])) / sum(increase(http_request_duration_seconds_count{service="checkout"}[1h]))',
    );
    expect(group!.rules.find((rule) => rule.alert === 'SLOBurnRateCritical')!.expr).toBe(
      '(slo:bad_ratio:rate1h{slo="checkout-latency"} / 0.005 > 14.4 and slo:bad_ratio:rate5m{slo="checkout-latency"} / 0.005 > 14.4)\n  or\n' +
        '(slo:bad_ratio:rate6h{slo="checkout-latency"} / 0.005 > 6 and slo:bad_ratio:rate30m{slo="checkout-latency"} / 0.005 > 6)',
    );
  });
});
