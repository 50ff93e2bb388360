import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '../../src/webhooks/auth.js';
import type { WebhookServer } from '../../src/webhooks/server.js';
import { alertmanagerPayload } from '../support/alertmanager-payloads.js';
import { startIntakeServer } from '../support/intake-server.js';
import { connectStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';

const TOKEN = 'fuzz-test-token-0123456789';
const SECRET = 'fuzz-test-hmac-secret-0123456789';
const DELIVERIES = 3000;

/** A small seeded PRNG (mulberry32): the same seed throws the same payloads. */
function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number) => Math.floor(next() * max);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick };
}

type Rng = ReturnType<typeof random>;

const WEIRD_VALUES = [null, true, false, 0, -1, 1e308, -0, '', ' ', '\u0000', '💥'.repeat(50), 'x'.repeat(5000), [], {}, [[[]]], { __proto__: { polluted: true } }, '0001-01-01T00:00:00Z', 'not-a-date', '2026-13-45T99:99:99Z'];

function randomValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 3 ? 3 : 6)) {
    case 0:
      return rng.pick(WEIRD_VALUES);
    case 1:
      return rng.next() * 1e6;
    case 2:
      return Array.from({ length: rng.int(20) }, () => String.fromCharCode(rng.int(0xffff))).join('');
    case 3:
      return Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: rng.int(5) }, () => [rng.pick(['status', 'labels', 'alerts', 'version', 'payload', 'event_action', 'dedup_key', '__proto__', 'constructor', String(rng.int(100))]), randomValue(rng, depth + 1)]));
  }
}

/** A valid payload with one field deleted or replaced by something strange. */
function mutate(rng: Rng, payload: Record<string, unknown>): unknown {
  const copy = JSON.parse(JSON.stringify(payload)) as Record<string, unknown>;
  let target: Record<string, unknown> = copy;
  const path = rng.pick([[], ['alerts', 0], ['alerts', 0, 'labels'], ['payload'], ['alerts', 0, 'annotations']] as const);
  for (const part of path) {
    const inner = (target as Record<string | number, unknown>)[part];
    if (inner && typeof inner === 'object') target = inner as Record<string, unknown>;
  }
  const keys = Object.keys(target);
  const key = keys.length > 0 && rng.next() < 0.8 ? rng.pick(keys) : String(rng.int(10));
  if (rng.next() < 0.4) delete target[key];
  else target[key] = randomValue(rng);
  return copy;
}

function randomBody(rng: Rng, unique: string): string {
  const kind = rng.int(6);
  if (kind === 0) return Array.from({ length: rng.int(200) }, () => String.fromCharCode(rng.int(256))).join('');
  if (kind === 1) return JSON.stringify(randomValue(rng));
  if (kind === 2) return '{'.repeat(rng.int(5000)) + '}'.repeat(rng.int(5000));
  if (kind === 3) {
    const event = { event_action: 'trigger', dedup_key: `fuzz-${unique}-${rng.int(20)}`, payload: { summary: 's', source: 'fuzz', severity: 'warning' } };
    return JSON.stringify(mutate(rng, event));
  }
  return JSON.stringify(mutate(rng, alertmanagerPayload(`{}:{fuzz="${unique}-${rng.int(20)}"}`, [{ fingerprint: `f${rng.int(5)}` }])));
}

/**
 * Thousands of generated bad and random deliveries against both routes: the
 * intake answers every one with a 2xx or a 4xx, never a 5xx, and keeps running.
 */
describe('intake under random and malformed deliveries', () => {
  let clients: StackClients;
  let app: WebhookServer;
  let base: string;

  beforeAll(async () => {
    clients = await connectStack();
    ({ app, base } = await startIntakeServer({
      temporal: clients.client,
      temporalConnection: clients.connection,
      pool: clients.pool,
      // No worker serves this queue: accepted deliveries only need to be durable.
      intake: { taskQueue: uniqueTaskQueue('fuzz'), webhookToken: TOKEN, hmacSecret: SECRET },
    }));
  });

  afterAll(async () => {
    await app.close();
    await clients.close();
  });

  it(`answers ${DELIVERIES} generated deliveries with no 5xx and stays up`, async () => {
    const rng = random(20261123);
    const unique = Date.now().toString(36);
    const statuses = new Map<number, number>();
    const fiveHundreds: string[] = [];
    const send = async () => {
      const body = randomBody(rng, unique);
      const route = rng.pick(['/webhooks/alertmanager', '/webhooks/events']);
      const auth = rng.int(10);
      const headers: Record<string, string> = { 'content-type': rng.next() < 0.95 ? 'application/json' : rng.pick(['text/plain', 'application/xml', 'application/json; charset=latin1']) };
      if (auth < 7) headers.authorization = `Bearer ${TOKEN}`;
      else if (auth === 7) headers['x-ops-signature'] = signBody(SECRET, Math.floor(Date.now() / 1000), body);
      else if (auth === 8) headers['x-ops-signature'] = `t=${rng.int(1e10)},v1=${'ab'.repeat(rng.int(40))}`;
      const response = await fetch(`${base}${route}`, { method: 'POST', headers, body });
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      if (response.status >= 500) fiveHundreds.push(`${response.status} ${route} ${body.slice(0, 200)} -> ${await response.text()}`);
      else await response.arrayBuffer();
    };
    for (let sent = 0; sent < DELIVERIES; sent += 32) await Promise.all(Array.from({ length: Math.min(32, DELIVERIES - sent) }, send));

    expect(fiveHundreds).toEqual([]);
    const total = [...statuses.values()].reduce((sum, count) => sum + count, 0);
    expect(total).toBe(DELIVERIES);
    // Most deliveries are refused with a 4xx; the mutations that stay valid are accepted.
    expect(statuses.get(400)).toBeGreaterThan(DELIVERIES / 3);
    expect(statuses.get(401)).toBeGreaterThan(0);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  }, 240_000);
});
