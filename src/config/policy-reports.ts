import { z } from 'zod';
import { duration } from './policy-incidents.js';

/**
 * The policy file's `reports` and `slos` sections. Queries are PromQL
 * templates giving one number per service: `$service`, `$window` (a PromQL
 * range such as 1d) and, for latency, `$quantile` are filled in; for SLOs
 * `$threshold` is the latency objective in seconds. The defaults follow the
 * usual names (`up`, `http_requests_total`, `http_request_duration_seconds`).
 */
const EVERY_KEY_DEFAULTED = {} as never;

export const DEFAULT_REPORT_QUERIES = {
  availability: 'avg_over_time(up{job="$service"}[$window])',
  errorRatio: 'sum(increase(http_requests_total{service="$service",code=~"5.."}[$window])) / sum(increase(http_requests_total{service="$service"}[$window]))',
  latency: 'histogram_quantile($quantile, sum by (le) (increase(http_request_duration_seconds_bucket{service="$service"}[$window])))',
  slowRatio:
    '1 - sum(increase(http_request_duration_seconds_bucket{service="$service",le="$threshold"}[$window])) / sum(increase(http_request_duration_seconds_count{service="$service"}[$window]))',
} as const;

const slo = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'expected lower-case letters, digits and dashes'),
    service: z.string().min(1),
    /** Availability: the share of requests answered without a 5xx; latency: the share faster than `threshold`. */
    kind: z.enum(['availability', 'latency']),
    /** The target share of good requests, for example 0.999. */
    objective: z.number().gt(0).lt(1),
    /** Seconds; a latency SLO's bucket boundary (`le`), so it must be one of the histogram's buckets. */
    threshold: z.number().positive().optional(),
    window: duration('30d'),
  })
  .strict()
  .refine((entry) => entry.kind !== 'latency' || entry.threshold !== undefined, { message: 'a latency SLO needs a threshold (seconds)', path: ['threshold'] });

export type SloPolicy = z.infer<typeof slo>;

export const reportPolicySections = {
  reports: z
    .object({
      /** The services the reports cover, by the name the queries use. */
      services: z.array(z.string().min(1)).default([]),
      queries: z
        .object({
          availability: z.string().min(1).default(DEFAULT_REPORT_QUERIES.availability),
          errorRatio: z.string().min(1).default(DEFAULT_REPORT_QUERIES.errorRatio),
          latency: z.string().min(1).default(DEFAULT_REPORT_QUERIES.latency),
          slowRatio: z.string().min(1).default(DEFAULT_REPORT_QUERIES.slowRatio),
        })
        .strict()
        .prefault(EVERY_KEY_DEFAULTED),
      /** Where the Markdown and HTML go in S3_BUCKET: <prefix>/<period>/<date>.{md,html}. */
      prefix: z.string().min(1).default('reports'),
      /** Links in Slack point here + the object key (a web front for the bucket); otherwise a presigned URL valid 7 days. */
      linkBase: z.url().optional(),
      /** The HTML report goes to these addresses (SMTP_URL must be set). */
      recipients: z.array(z.email()).default([]),
      /** The Slack summary's channel; default SLACK_CHANNEL. */
      slackChannel: z.string().min(1).optional(),
    })
    .strict()
    .prefault(EVERY_KEY_DEFAULTED),
  slos: z
    .array(slo)
    .default([])
    .refine((list) => new Set(list.map((entry) => entry.name)).size === list.length, 'SLO names must be unique'),
};
