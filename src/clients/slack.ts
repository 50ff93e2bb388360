import { WebClient, type LogLevel } from '@slack/web-api';

/**
 * The Slack client, pointed at SLACK_API_URL (a local server in tests). Rate
 * limits are surfaced as errors so that Temporal's retry policy, not a hidden
 * client-side loop, decides when to try again.
 */
export function createSlackClient(token: string, apiUrl: string, logLevel?: LogLevel): WebClient {
  return new WebClient(token, {
    slackApiUrl: apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    timeout: 15_000,
    ...(logLevel ? { logLevel } : {}),
  });
}
