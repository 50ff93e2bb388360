import { writeFileSync } from 'node:fs';

/**
 * Fourteen days of service metrics for the report tests, written as
 * OpenMetrics for `promtool tsdb create-blocks-from openmetrics`, and the
 * model that says what Prometheus must answer for any window of them.
 *
 * Samples are every 5 minutes, offset 150 s from midnight, so no sample sits
 * on a day boundary and a one-day window holds exactly that day's 288
 * samples. A counter's step belongs to the day of the sample that ends it.
 * Counters start at 1e9, so Prometheus's extrapolation never clamps at zero
 * and scales numerator and denominator alike: ratios and quantiles come out
 * as the model computes them.
 */
export const STEP_MS = 300_000;
const OFFSET_MS = 150_000;
const DAY_MS = 86_400_000;
const BASE = 1e9;
export const BUCKETS = ['0.1', '0.25', '0.5', '1', '+Inf'] as const;

export interface DayProfile {
  /** Requests per step, and of them answered with 5xx. */
  requests: number;
  errors: number;
  /** Cumulative requests per step at or under each bucket boundary (the last is +Inf = requests). */
  buckets: [number, number, number, number, number];
  /** Samples (from the day's first) with up = 0. */
  downSamples?: number;
}

export type ServiceModel = (dayIndex: number) => DayProfile;

export interface MetricsModel {
  firstDay: number;
  days: number;
  services: Record<string, ServiceModel>;
}

function sampleTimes(model: MetricsModel): number[] {
  const times: number[] = [];
  for (let time = model.firstDay + OFFSET_MS; time < model.firstDay + model.days * DAY_MS; time += STEP_MS) times.push(time);
  return times;
}

const dayIndexOf = (model: MetricsModel, time: number) => Math.floor((time - model.firstDay) / DAY_MS);

/** The OpenMetrics text: counters for requests by code, a latency histogram, and `up`. */
export function writeOpenMetrics(model: MetricsModel, file: string): void {
  const times = sampleTimes(model);
  const lines: string[] = [];
  const series = (name: string, labels: string, valueAt: (time: number, previous: number) => number) => {
    let value = BASE;
    for (const time of times) {
      value = valueAt(time, value);
      lines.push(`${name}{${labels}} ${value} ${time / 1000}`);
    }
  };
  const profile = (service: string, time: number) => model.services[service]!(dayIndexOf(model, time));
  lines.push('# TYPE http_requests counter');
  for (const service of Object.keys(model.services)) {
    series('http_requests_total', `service="${service}",code="200"`, (time, previous) => previous + profile(service, time).requests - profile(service, time).errors);
    series('http_requests_total', `service="${service}",code="500"`, (time, previous) => previous + profile(service, time).errors);
  }
  lines.push('# TYPE http_request_duration_seconds histogram');
  for (const service of Object.keys(model.services)) {
    BUCKETS.forEach((le, index) => series('http_request_duration_seconds_bucket', `service="${service}",le="${le}"`, (time, previous) => previous + profile(service, time).buckets[index]!));
    series('http_request_duration_seconds_count', `service="${service}"`, (time, previous) => previous + profile(service, time).requests);
    series('http_request_duration_seconds_sum', `service="${service}"`, (time, previous) => previous + profile(service, time).requests * 0.1);
  }
  lines.push('# TYPE up gauge');
  for (const service of Object.keys(model.services)) {
    series('up', `job="${service}"`, (time) => {
      const dayStart = model.firstDay + dayIndexOf(model, time) * DAY_MS;
      const position = Math.floor((time - dayStart - OFFSET_MS) / STEP_MS);
      return position < (profile(service, time).downSamples ?? 0) ? 0 : 1;
    });
  }
  lines.push('# EOF', '');
  writeFileSync(file, lines.join('\n'));
}

/** The steps a PromQL range (end - days, end] counts for increase(): those whose start and end samples both lie in it. */
function countedSteps(model: MetricsModel, end: number, days: number): number[] {
  const inside = sampleTimes(model).filter((time) => time > end - days * DAY_MS && time <= end);
  return inside.slice(1);
}

/** Sums of what a service's counters gained over the window, as Prometheus sees them before scaling. */
function gains(model: MetricsModel, service: string, end: number, days: number) {
  const total = { requests: 0, errors: 0, buckets: [0, 0, 0, 0, 0] };
  for (const time of countedSteps(model, end, days)) {
    const day = model.services[service]!(dayIndexOf(model, time));
    total.requests += day.requests;
    total.errors += day.errors;
    day.buckets.forEach((count, index) => (total.buckets[index]! += count));
  }
  return total;
}

export function expectedErrorRatio(model: MetricsModel, service: string, end: number, days: number): number {
  const total = gains(model, service, end, days);
  return total.errors / total.requests;
}

/** 1 - (requests under `le`) / requests, the latency SLO's bad share. */
export function expectedSlowRatio(model: MetricsModel, service: string, end: number, days: number, le: string): number {
  const total = gains(model, service, end, days);
  return 1 - total.buckets[BUCKETS.indexOf(le as (typeof BUCKETS)[number])]! / total.requests;
}

/** histogram_quantile as Prometheus computes it over the window's bucket increases. */
export function expectedQuantile(model: MetricsModel, service: string, end: number, days: number, q: number): number {
  const counts = gains(model, service, end, days).buckets;
  const bounds = [0.1, 0.25, 0.5, 1, Infinity];
  let rank = q * counts[counts.length - 1]!;
  const bucket = counts.findIndex((count, index) => index === counts.length - 1 || count >= rank);
  if (bucket === counts.length - 1) return bounds[bounds.length - 2]!;
  let start = 0;
  let count = counts[bucket]!;
  if (bucket > 0) {
    start = bounds[bucket - 1]!;
    count -= counts[bucket - 1]!;
    rank -= counts[bucket - 1]!;
  }
  return start + (bounds[bucket]! - start) * (rank / count);
}

export function expectedAvailability(model: MetricsModel, service: string, end: number, days: number): number {
  const inside = sampleTimes(model).filter((time) => time > end - days * DAY_MS && time <= end);
  const down = inside.filter((time) => {
    const day = dayIndexOf(model, time);
    const position = Math.floor((time - model.firstDay - day * DAY_MS - OFFSET_MS) / STEP_MS);
    return position < (model.services[service]!(day).downSamples ?? 0);
  }).length;
  return 1 - down / inside.length;
}
