import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local server speaking the Slack Web API methods we use (chat.postMessage,
 * chat.update, conversations.history, conversations.replies), for the real
 * @slack/web-api client. It records every call and can be told to fail.
 */
export interface SlackMessage {
  channel: string;
  ts: string;
  text: string;
  blocks?: unknown[];
  thread_ts?: string;
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  updates: number;
}

export interface SlackCall {
  method: string;
  args: Record<string, unknown>;
}

type Fault = { kind: 'rate-limit'; retryAfterSeconds: number } | { kind: 'drop-response' } | { kind: 'error'; error: string };

export class FakeSlack {
  readonly messages: SlackMessage[] = [];
  readonly calls: SlackCall[] = [];
  private readonly faults = new Map<string, Fault[]>();
  private server: Server | undefined;
  private clock = 1_700_000_000;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      void this.handle(request).then(({ status, body, headers, drop }) => {
        if (drop) {
          request.socket.destroy();
          return;
        }
        response.writeHead(status, { 'content-type': 'application/json', ...headers });
        response.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The next call of `method` fails this way (after doing its work, for drop-response). */
  failNext(method: string, fault: Fault): void {
    this.faults.set(method, [...(this.faults.get(method) ?? []), fault]);
  }

  topLevel(): SlackMessage[] {
    return this.messages.filter((message) => !message.thread_ts);
  }

  replies(ts: string): SlackMessage[] {
    return this.messages.filter((message) => message.thread_ts === ts);
  }

  private async handle(request: IncomingMessage) {
    const method = (request.url ?? '').replace(/^\/api\//, '').split('?')[0]!;
    const raw = await new Promise<string>((resolve) => {
      let text = '';
      request.on('data', (chunk: Buffer) => (text += chunk.toString()));
      request.on('end', () => resolve(text));
    });
    const args = parseArgs(raw, String(request.headers['content-type'] ?? ''));
    this.calls.push({ method, args });
    if (!String(request.headers.authorization ?? '').startsWith('Bearer ')) {
      return { status: 200, body: { ok: false, error: 'not_authed' } };
    }
    const fault = this.faults.get(method)?.shift();
    if (fault?.kind === 'rate-limit') {
      return { status: 429, body: { ok: false, error: 'ratelimited' }, headers: { 'retry-after': String(fault.retryAfterSeconds) } };
    }
    if (fault?.kind === 'error') return { status: 200, body: { ok: false, error: fault.error } };
    const result = this.apply(method, args);
    return { status: 200, body: result, drop: fault?.kind === 'drop-response' };
  }

  private apply(method: string, args: Record<string, unknown>): Record<string, unknown> {
    switch (method) {
      case 'chat.postMessage': {
        this.clock += 1;
        const message: SlackMessage = {
          channel: String(args.channel),
          ts: `${this.clock}.000100`,
          text: String(args.text ?? ''),
          ...(args.blocks ? { blocks: args.blocks as unknown[] } : {}),
          ...(args.thread_ts ? { thread_ts: String(args.thread_ts) } : {}),
          ...(args.metadata ? { metadata: args.metadata as SlackMessage['metadata'] } : {}),
          updates: 0,
        };
        this.messages.push(message);
        return { ok: true, channel: message.channel, ts: message.ts, message };
      }
      case 'chat.update': {
        const message = this.messages.find((candidate) => candidate.channel === args.channel && candidate.ts === args.ts);
        if (!message) return { ok: false, error: 'message_not_found' };
        message.text = String(args.text ?? message.text);
        if (args.blocks) message.blocks = args.blocks as unknown[];
        message.updates += 1;
        return { ok: true, channel: message.channel, ts: message.ts };
      }
      case 'conversations.history': {
        const messages = this.topLevel()
          .filter((message) => message.channel === args.channel)
          .reverse()
          .map((message) => (args.include_all_metadata ? message : { ...message, metadata: undefined }));
        return { ok: true, messages, has_more: false };
      }
      case 'conversations.replies': {
        const parent = this.messages.find((message) => message.ts === args.ts);
        const messages = [parent, ...this.replies(String(args.ts))].filter(Boolean);
        return { ok: true, messages, has_more: false };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }
}

/** The client posts form-encoded arguments, with objects as JSON strings. */
function parseArgs(raw: string, contentType: string): Record<string, unknown> {
  const entries: Array<[string, string]> = contentType.includes('application/json')
    ? Object.entries(JSON.parse(raw || '{}') as Record<string, string>)
    : [...new URLSearchParams(raw).entries()];
  return Object.fromEntries(
    entries.map(([key, value]) => {
      if (typeof value === 'string' && /^[[{]/.test(value)) {
        try {
          return [key, JSON.parse(value) as unknown];
        } catch {
          return [key, value];
        }
      }
      if (value === 'true') return [key, true];
      return [key, value];
    }),
  );
}
