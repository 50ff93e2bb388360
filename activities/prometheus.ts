import { ApplicationFailure } from '@temporalio/activity';
import { ErrorType } from '../src/domain/errors.js';

/**
 * PromQL instant queries against PROMETHEUS_URL. A query that returns no
 * series answers `undefined`, never zero: a figure Prometheus does not have
 * is "no data", and callers decide what that means.
 */
export interface PrometheusDeps {
  prometheusUrl: string;
}

interface QueryResponse {
  status: 'success' | 'error';
  error?: string;
  errorType?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

export async function instantQuery(prometheusUrl: string, query: string, at?: Date): Promise<{ labels: Record<string, string>; value: number }[]> {
  const url = new URL('/api/v1/query', prometheusUrl);
  const body = new URLSearchParams({ query, ...(at ? { time: String(at.getTime() / 1000) } : {}) });
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', body, signal: AbortSignal.timeout(15_000) });
  } catch (error) {
    throw new Error(`Prometheus at ${prometheusUrl} could not be reached: ${(error as Error).message}`);
  }
  const answer = (await response.json().catch(() => ({ status: 'error', error: `HTTP ${response.status}` }))) as QueryResponse;
  if (answer.status !== 'success') {
    // A bad query is final; anything else (overload, timeout) may pass.
    if (response.status === 400 || answer.errorType === 'bad_data') {
      throw ApplicationFailure.nonRetryable(`Prometheus refused the query ${JSON.stringify(query)}: ${answer.error}`, ErrorType.InvalidInput);
    }
    throw new Error(`Prometheus answered ${response.status} to ${JSON.stringify(query)}: ${answer.error}`);
  }
  if (answer.data?.resultType !== 'vector') {
    throw ApplicationFailure.nonRetryable(`the query ${JSON.stringify(query)} must give an instant vector, not a ${answer.data?.resultType}`, ErrorType.InvalidInput);
  }
  return answer.data.result.map((sample) => ({ labels: sample.metric, value: Number(sample.value[1]) }));
}

export function createPrometheusActivities(deps: PrometheusDeps) {
  async function valueOf(query: string): Promise<number | undefined> {
    const samples = (await instantQuery(deps.prometheusUrl, query)).filter((sample) => Number.isFinite(sample.value));
    if (samples.length === 0) return undefined;
    return samples.reduce((sum, sample) => sum + sample.value, 0);
  }

  return {
    /** The single value of `query` (summed if it gives several series), or undefined for no data. */
    async queryValue(input: { query: string }): Promise<number | undefined> {
      return valueOf(input.query);
    },

    /** Several queries at once, by name; a query without data is absent from the answer. */
    async queryValues(input: { queries: Record<string, string> }): Promise<Record<string, number>> {
      const entries = await Promise.all(Object.entries(input.queries).map(async ([name, query]) => [name, await valueOf(query)] as const));
      return Object.fromEntries(entries.filter((entry): entry is readonly [string, number] => entry[1] !== undefined));
    },
  };
}
