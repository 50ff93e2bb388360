import type { AddressInfo } from 'node:net';
import { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.js';
import { buildWebhookServer, type WebhookServer } from '../../src/webhooks/server.js';
import { connectNative, testStack } from '../support/stack.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * The HTTP server's own behaviour against a real Temporal reached through a
 * proxy the test can cut: health, readiness, metrics, and the answers every
 * route shares (413, 415, 400, 404).
 */
describe('webhook server', () => {
  let proxy: TcpProxy;
  let connection: NativeConnection;
  let app: WebhookServer;
  let base: string;

  beforeAll(async () => {
    const [host, port] = testStack().temporalAddress.split(':');
    proxy = new TcpProxy(host!, Number(port));
    await proxy.start();
    // The transport the webhook server runs on (src/clients/temporal.ts): the SDK's native client.
    connection = await connectNative(proxy.address);
    app = buildWebhookServer({
      temporal: new Client({ connection }),
      temporalConnection: connection,
      logger: createLogger({ level: 'silent' }),
      readinessTimeoutMs: 1000,
    });
    // A JSON route like the intake's, to exercise the shared parsers and limits.
    app.post('/echo', async (request) => ({ received: request.body }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await app.close();
    await connection.close();
    await proxy.cut();
  });

  it('answers /healthz while the process is up', async () => {
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz 200 while Temporal is reachable and 503 while it is not', async () => {
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    await proxy.cut();
    const down = await fetch(`${base}/readyz`);
    expect(down.status).toBe(503);
    expect(((await down.json()) as { temporal: string }).temporal).toMatch(/^unreachable/);

    await proxy.restore();
    await expect.poll(async () => (await fetch(`${base}/readyz`)).status, { timeout: 15_000, interval: 250 }).toBe(200);
    // /healthz never depended on Temporal.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('takes JSON and refuses other media types with 415', async () => {
    const ok = await fetch(`${base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: 1 }),
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ received: { a: 1 } });

    const text = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'a=1' });
    expect(text.status).toBe(415);
    const form = await fetch(`${base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1',
    });
    expect(form.status).toBe(415);
  });

  it('refuses bodies over 1 MiB with 413 and accepts one just under', async () => {
    const payload = (size: number) => JSON.stringify({ pad: 'x'.repeat(size - 10) });
    const under = await fetch(`${base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: payload(1024 * 1024 - 100),
    });
    expect(under.status).toBe(200);
    const over = await fetch(`${base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: payload(1024 * 1024 + 100),
    });
    expect(over.status).toBe(413);
  });

  it('answers malformed JSON with 400 naming the problem, never a 5xx', async () => {
    const response = await fetch(`${base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a": ',
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toMatch(/JSON/i);
  });

  it('answers an unknown route with 404 naming it', async () => {
    const response = await fetch(`${base}/nope`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: 'no route GET /nope', status: 404 });
  });

  it('exposes request counts by route and status on /metrics', async () => {
    await fetch(`${base}/healthz`);
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toMatch(/ops_http_requests_total\{route="\/healthz",method="GET",status="200"\} \d+/);
    expect(text).toMatch(/ops_http_requests_total\{route="\/echo",method="POST",status="413"\} 1/);
    expect(text).toContain('ops_http_request_duration_seconds_bucket');
  });
});
