import { Context } from '@temporalio/activity';
import type { HttpCheckSpec } from '../src/domain/remediation.js';

/**
 * "Does the service answer?": one GET with a timeout, judged by status and,
 * when asked, by a text the body must contain. A failing check is a result,
 * not an error: the caller decides what it means.
 */
export interface HttpCheckResult {
  ok: boolean;
  status?: number;
  ms: number;
  detail: string;
}

export async function checkHttp(spec: HttpCheckSpec): Promise<HttpCheckResult> {
  const started = Date.now();
  try {
    const response = await fetch(spec.url, { signal: AbortSignal.timeout(spec.timeoutMs), redirect: 'manual' });
    const body = spec.bodyContains !== undefined ? await response.text() : (await response.body?.cancel(), '');
    const ms = Date.now() - started;
    if (response.status !== spec.expectStatus) return { ok: false, status: response.status, ms, detail: `${spec.url} answered ${response.status}, expected ${spec.expectStatus}` };
    if (spec.bodyContains !== undefined && !body.includes(spec.bodyContains)) {
      return { ok: false, status: response.status, ms, detail: `${spec.url} answered ${response.status} without "${spec.bodyContains}" in its body` };
    }
    return { ok: true, status: response.status, ms, detail: `${spec.url} answered ${response.status} in ${ms} ms` };
  } catch (error) {
    const ms = Date.now() - started;
    const cause = (error as Error).name === 'TimeoutError' ? `no answer within ${spec.timeoutMs} ms` : ((error as Error & { cause?: Error }).cause?.message ?? (error as Error).message);
    return { ok: false, ms, detail: `${spec.url}: ${cause}` };
  }
}

export function createHttpCheckActivities() {
  return {
    async httpCheck(spec: HttpCheckSpec): Promise<HttpCheckResult> {
      const result = await checkHttp(spec);
      Context.current().log.info('http check', { url: spec.url, ok: result.ok, status: result.status, ms: result.ms });
      return result;
    },
  };
}
