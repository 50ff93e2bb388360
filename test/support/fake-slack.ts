import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local server speaking the Slack Web API methods we use (chat.postMessage,
 * chat.update, chat.postEphemeral, conversations.history, conversations.replies,
 * conversations.list), for the real @slack/web-api client. It records every
 * call and can be told to fail. Like Slack, it knows channels by ID: a post
 * may name a channel ("#incidents", which the fake then makes), every other
 * method wants the ID (C…) and answers `channel_not_found` to a name.
 */
export interface SlackMessage {
  /** The channel's ID, as Slack answers it. */
  channel: string;
  /** The channel's name, without "#". */
  channelName: string;
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

type Fault = { kind: 'rate-limit'; retryAfterSeconds: number } | { kind: 'drop-response' } | { kind: 'error'; error: string } | { kind: 'http'; status: number };

export interface SlackEphemeral {
  channel: string;
  user: string;
  text: string;
}

const CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;
const CHANNEL_NAME = /^[a-z0-9][a-z0-9_-]{0,79}$/;

export class FakeSlack {
  readonly messages: SlackMessage[] = [];
  readonly ephemerals: SlackEphemeral[] = [];
  readonly calls: SlackCall[] = [];
  /** Channel ID -> name. */
  readonly channels = new Map<string, string>();
  private readonly faults = new Map<string, Array<Fault & { when?: (args: Record<string, unknown>) => boolean }>>();
  private server: Server | undefined;
  /** Every call answers with this fault until the time (an outage); see failUntil. */
  private outage: { fault: Fault; until: number } | undefined;
  /** Microseconds of the last ts handed out: Slack's ts is the Unix time of the message, unique in its channel. */
  private clock = 0;
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

  /**
   * The next call of `method` fails this way (after doing its work, for
   * drop-response); with `when`, the next call whose arguments it accepts.
   */
  failNext(method: string, fault: Fault, when?: (args: Record<string, unknown>) => boolean): void {
    this.faults.set(method, [...(this.faults.get(method) ?? []), { ...fault, ...(when ? { when } : {}) }]);
  }

  /** Every call fails this way until `until` (epoch ms): Slack down, or rate-limiting everyone. */
  failUntil(fault: Fault, until: number): void {
    this.outage = { fault, until };
  }

  /** The ID of a channel by name ("#incidents" or "incidents"), making it if it does not exist yet. */
  channelId(name: string): string {
    const bare = name.replace(/^#/, '');
    for (const [id, known] of this.channels) if (known === bare) return id;
    const id = `C0${(this.channels.size + 1).toString(36).toUpperCase().padStart(8, '0')}`;
    this.channels.set(id, bare);
    return id;
  }

  inChannel(name: string): SlackMessage[] {
    const bare = name.replace(/^#/, '');
    return this.messages.filter((message) => message.channelName === bare);
  }

  /** A channel given by ID, or by name where Slack accepts one; undefined where Slack says channel_not_found. */
  private channelOf(given: unknown, namesAllowed: boolean): string | undefined {
    const text = String(given ?? '');
    if (CHANNEL_ID.test(text)) return this.channels.has(text) ? text : undefined;
    const bare = text.replace(/^#/, '');
    return namesAllowed && CHANNEL_NAME.test(bare) ? this.channelId(bare) : undefined;
  }

  topLevel(): SlackMessage[] {
    return this.messages.filter((message) => !message.thread_ts);
  }

  replies(ts: string): SlackMessage[] {
    return this.messages.filter((message) => message.thread_ts === ts);
  }

  private nextTs(): string {
    this.clock = Math.max(this.clock + 1, Date.now() * 1000);
    return `${Math.floor(this.clock / 1e6)}.${String(this.clock % 1e6).padStart(6, '0')}`;
  }

  /** One page of a cursor-paginated answer: `limit` items from the cursor on, has_more and the next cursor. */
  private page(items: SlackMessage[], args: Record<string, unknown>, defaultLimit: number, maxLimit: number, show: (message: SlackMessage) => unknown) {
    const limit = Math.min(maxLimit, Math.max(1, Number(args.limit ?? defaultLimit) || defaultLimit));
    const from = args.cursor ? Number(Buffer.from(String(args.cursor), 'base64').toString('utf8').replace(/^offset:/, '')) : 0;
    const slice = items.slice(from, from + limit);
    const more = from + limit < items.length;
    return {
      ok: true,
      messages: slice.map(show),
      has_more: more,
      ...(more ? { response_metadata: { next_cursor: Buffer.from(`offset:${from + limit}`).toString('base64') } } : {}),
    };
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
    const queue = this.faults.get(method) ?? [];
    const index = queue.findIndex((candidate) => !candidate.when || candidate.when(args));
    const fault = this.outage && Date.now() < this.outage.until ? this.outage.fault : index >= 0 ? queue.splice(index, 1)[0] : undefined;
    if (fault?.kind === 'rate-limit') {
      return { status: 429, body: { ok: false, error: 'ratelimited' }, headers: { 'retry-after': String(fault.retryAfterSeconds) } };
    }
    if (fault?.kind === 'error') return { status: 200, body: { ok: false, error: fault.error } };
    if (fault?.kind === 'http') return { status: fault.status, body: { ok: false, error: 'fatal_error' } };
    const result = this.apply(method, args);
    return { status: 200, body: result, drop: fault?.kind === 'drop-response' };
  }

  private apply(method: string, args: Record<string, unknown>): Record<string, unknown> {
    switch (method) {
      case 'chat.postMessage': {
        const channel = this.channelOf(args.channel, true);
        if (!channel) return { ok: false, error: 'channel_not_found' };
        const message: SlackMessage = {
          channel,
          channelName: this.channels.get(channel)!,
          ts: this.nextTs(),
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
        if (!this.channelOf(args.channel, false)) return { ok: false, error: 'channel_not_found' };
        const message = this.messages.find((candidate) => candidate.channel === args.channel && candidate.ts === args.ts);
        if (!message) return { ok: false, error: 'message_not_found' };
        message.text = String(args.text ?? message.text);
        if (args.blocks) message.blocks = args.blocks as unknown[];
        message.updates += 1;
        return { ok: true, channel: message.channel, ts: message.ts };
      }
      case 'chat.postEphemeral': {
        const channel = this.channelOf(args.channel, false);
        if (!channel) return { ok: false, error: 'channel_not_found' };
        if (!/^[UW][A-Z0-9]{2,}$/.test(String(args.user ?? ''))) return { ok: false, error: 'user_not_found' };
        this.ephemerals.push({ channel, user: String(args.user), text: String(args.text ?? '') });
        return { ok: true, message_ts: this.nextTs() };
      }
      case 'conversations.list': {
        const channels = [...this.channels].map(([id, name]) => ({ id, name, is_channel: true, is_archived: false }));
        return { ok: true, channels, response_metadata: { next_cursor: '' } };
      }
      case 'conversations.history': {
        if (!this.channelOf(args.channel, false)) return { ok: false, error: 'channel_not_found' };
        // Newest first, within oldest/latest (exclusive unless inclusive), at most `limit` (default 100, at most 999) per page.
        const inclusive = args.inclusive === true || args.inclusive === 'true' || args.inclusive === '1';
        const after = (ts: string, bound: unknown) => bound === undefined || (inclusive ? Number(ts) >= Number(bound) : Number(ts) > Number(bound));
        const before = (ts: string, bound: unknown) => bound === undefined || (inclusive ? Number(ts) <= Number(bound) : Number(ts) < Number(bound));
        const all = this.topLevel()
          .filter((message) => message.channel === args.channel && after(message.ts, args.oldest) && before(message.ts, args.latest))
          .reverse();
        return this.page(all, args, 100, 999, (message) => (args.include_all_metadata ? message : { ...message, metadata: undefined }));
      }
      case 'conversations.replies': {
        if (!this.channelOf(args.channel, false)) return { ok: false, error: 'channel_not_found' };
        const parent = this.messages.find((message) => message.ts === args.ts);
        if (!parent) return { ok: false, error: 'thread_not_found' };
        return this.page([parent, ...this.replies(String(args.ts))], args, 1000, 1000, (message) => (args.include_all_metadata ? message : { ...message, metadata: undefined }));
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
