import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP endpoint that records what it receives and answers as told:
 * the PagerDuty Events API v2 (202 {status, message, dedup_key}) or a generic
 * webhook receiver. Queued answers let a test make it fail a number of times.
 */
export interface RecordedRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
  raw: string;
  /** When the request arrived (epoch ms). */
  receivedAt: number;
}

type Answer = { status: number; body?: unknown; headers?: Record<string, string> };

export class HttpRecorder {
  readonly requests: RecordedRequest[] = [];
  private readonly answers: Answer[] = [];
  private server: Server | undefined;
  url = '';

  constructor(private readonly answer: (request: RecordedRequest) => Answer = () => ({ status: 202, body: { status: 'success' } })) {}

  async start(path = '/'): Promise<void> {
    this.server = createServer((request, response) => {
      let raw = '';
      request.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      request.on('end', () => {
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          // Recorded as raw only.
        }
        const recorded = { path: request.url ?? '/', headers: request.headers, body, raw, receivedAt: Date.now() };
        const answer = this.answers.shift() ?? this.answer(recorded);
        // Only requests answered with success count as received.
        if (answer.status < 300) this.requests.push(recorded);
        response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        response.end(JSON.stringify(answer.body ?? {}));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** The next answers, in order, before the default one applies again. */
  queue(...answers: Answer[]): void {
    this.answers.push(...answers);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** The PagerDuty Events API v2 as it answers: 202 with the dedup_key, 400 for a bad event. */
export function fakePagerDuty(): HttpRecorder {
  return new HttpRecorder((request) => {
    const { routing_key: routingKey, event_action: action, dedup_key: dedupKey } = request.body as Record<string, string | undefined>;
    if (!routingKey || routingKey.length !== 32) return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors: ['Invalid routing key'] } };
    if (!['trigger', 'acknowledge', 'resolve'].includes(String(action))) return { status: 400, body: { status: 'invalid event', errors: ['Invalid event_action'] } };
    return { status: 202, body: { status: 'success', message: 'Event processed', dedup_key: dedupKey } };
  });
}
