import { ApplicationFailure, Context } from '@temporalio/activity';
import { ErrorCode, type WebAPICallResult, type WebClient } from '@slack/web-api';
import type pg from 'pg';
import { ErrorType } from '../src/domain/errors.js';
import type { SlackMessageRef } from '../src/domain/incident.js';
import { SentHere } from './sent-here.js';

/**
 * Posting to Slack at most once per idempotency key: the key is recorded in
 * slack_messages and carried in the message's metadata, and a retry looks for
 * a post of its own (an earlier attempt may have posted and lost the answer)
 * before posting again. So does any send that finds the key marked as being
 * sent (a row without ts, written before the post): its sender died before it
 * heard Slack's answer, and the workflow task that ran it runs again on
 * another worker as a first attempt. Slack's failures become Temporal's retry
 * decisions.
 */

export interface SlackPosterDeps {
  pool: pg.Pool;
  slack: WebClient | undefined;
  slackChannel: string;
}

const METADATA_EVENT = 'ops_automation_message';

/** How far back, and through how many pages of how many messages, a send looks for a post of its own. */
const LOOKBACK_MS = 30 * 60_000;
const LOOKUP_PAGES = 5;
const LOOKUP_LIMIT = 200;

/** Slack errors that retrying cannot fix, by Slack's error code. */
const FINAL_SLACK_ERRORS = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'missing_scope',
  'invalid_blocks',
  'msg_too_long',
  'message_not_found',
  'cant_update_message',
]);

/**
 * Calls Slack, turning its failures into Temporal's terms: a rate limit
 * becomes a retry after exactly Retry-After, a final error a non-retryable
 * failure naming Slack's code, anything else an ordinary retryable error.
 */
export async function callSlack<T extends WebAPICallResult>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const slackError = error as { code?: string; retryAfter?: number; data?: { error?: string } };
    if (slackError.code === ErrorCode.RateLimitedError) {
      throw ApplicationFailure.create({
        message: `Slack rate-limited ${what}; retrying after ${slackError.retryAfter}s`,
        type: 'SlackRateLimited',
        nextRetryDelay: `${slackError.retryAfter ?? 1}s`,
      });
    }
    const code = slackError.data?.error;
    if (slackError.code === ErrorCode.PlatformError && code && FINAL_SLACK_ERRORS.has(code)) {
      const type = ['invalid_auth', 'not_authed', 'token_revoked', 'account_inactive'].includes(code)
        ? ErrorType.Unauthorized
        : ErrorType.RemoteRejected;
      throw ApplicationFailure.nonRetryable(`Slack refused ${what}: ${code}`, type);
    }
    throw error;
  }
}

/** A conversation ID (public C…, private G…, direct D…), as opposed to a name. */
export const SLACK_CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;

export function createSlackPoster(deps: SlackPosterDeps) {
  const channelIds = new Map<string, string>();
  const postedHere = new SentHere<SlackMessageRef>();
  const slack = (): WebClient => {
    if (!deps.slack) throw ApplicationFailure.nonRetryable('Slack is not configured (set SLACK_TOKEN)', ErrorType.InvalidInput);
    return deps.slack;
  };

  /**
   * Our record of a post: the message, `sending` when a send began and never
   * heard back, or `answered: false` when our database cannot say. With our
   * database down a post still goes out: the key in the message's metadata is
   * then the record a later send looks for.
   */
  async function recorded(key: string): Promise<{ ref?: SlackMessageRef; sending?: true; answered: boolean }> {
    try {
      const { rows } = await deps.pool.query<{ channel: string; ts: string | null }>('SELECT channel, ts FROM slack_messages WHERE idempotency_key = $1', [key]);
      const row = rows[0];
      if (!row) return { answered: true };
      return row.ts === null ? { sending: true, answered: true } : { ref: { channel: row.channel, ts: row.ts }, answered: true };
    } catch {
      return { answered: false };
    }
  }

  /** Marks a key as being sent, before the post: a send that finds the mark looks in Slack first. */
  async function markSending(key: string, channel: string): Promise<void> {
    await deps.pool.query('INSERT INTO slack_messages (idempotency_key, channel, ts) VALUES ($1, $2, NULL) ON CONFLICT DO NOTHING', [key, channel]).catch(() => undefined);
  }

  async function remember(key: string, ref: SlackMessageRef): Promise<SlackMessageRef> {
    await deps.pool
      .query(
        `INSERT INTO slack_messages (idempotency_key, channel, ts) VALUES ($1, $2, $3)
         ON CONFLICT (idempotency_key) DO UPDATE SET channel = EXCLUDED.channel, ts = EXCLUDED.ts WHERE slack_messages.ts IS NULL`,
        [key, ref.channel, ref.ts],
      )
      .catch(() => undefined);
    return ref;
  }

  /**
   * Slack reads history only by channel ID: a configured name ("#incidents")
   * is looked up once with conversations.list (scopes channels:read,
   * groups:read) and remembered for the life of the worker.
   */
  async function channelId(channel: string): Promise<string> {
    if (SLACK_CHANNEL_ID.test(channel)) return channel;
    const name = channel.replace(/^#/, '');
    const known = channelIds.get(name);
    if (known) return known;
    let cursor: string | undefined;
    do {
      const page = await callSlack('conversations.list', () =>
        slack().conversations.list({ types: 'public_channel,private_channel', exclude_archived: true, limit: 1000, ...(cursor ? { cursor } : {}) }),
      );
      for (const entry of page.channels ?? []) if (entry.name && entry.id) channelIds.set(entry.name, entry.id);
      cursor = page.response_metadata?.next_cursor || undefined;
    } while (cursor && !channelIds.has(name));
    const id = channelIds.get(name);
    if (!id) throw ApplicationFailure.nonRetryable(`Slack has no channel named "${name}" that the app can see (invite it, or configure the channel ID)`, ErrorType.RemoteRejected);
    return id;
  }

  /**
   * A message we posted before a crash, found by the key in its metadata:
   * the channel's (or thread's) messages of the last LOOKBACK, newest first,
   * page by page as Slack serves them (it never sends more than `limit`).
   */
  async function findPosted(named: string, key: string, threadTs?: string): Promise<SlackMessageRef | undefined> {
    const channel = await channelId(named);
    const oldest = String(Math.floor((Date.now() - LOOKBACK_MS) / 1000));
    let cursor: string | undefined;
    for (let page = 0; page < LOOKUP_PAGES; page += 1) {
      const answer = threadTs
        ? await callSlack('conversations.replies', () =>
            slack().conversations.replies({ channel, ts: threadTs, include_all_metadata: true, limit: LOOKUP_LIMIT, ...(cursor ? { cursor } : {}) }),
          )
        : await callSlack('conversations.history', () =>
            slack().conversations.history({ channel, oldest, include_all_metadata: true, limit: LOOKUP_LIMIT, ...(cursor ? { cursor } : {}) }),
          );
      const found = answer.messages?.find(
        (message) =>
          message.metadata?.event_type === METADATA_EVENT &&
          (message.metadata.event_payload as { idempotency_key?: string } | undefined)?.idempotency_key === key,
      );
      if (found?.ts) return { channel, ts: found.ts };
      cursor = answer.response_metadata?.next_cursor || undefined;
      if (!answer.has_more || !cursor) return undefined;
    }
    return undefined;
  }

  async function postOnce(key: string, post: { text: string; blocks?: unknown[]; threadTs?: string; channel?: string; broadcast?: boolean }): Promise<SlackMessageRef> {
    const channel = post.channel ?? deps.slackChannel;
    // A retry may find a post of its own (an earlier attempt posted and lost the answer), and so may a send
    // our database cannot vouch for: a worker killed while it was down loses what its last task sent.
    const here = postedHere.get(key);
    if (here) return remember(key, here);
    const mine = await recorded(key);
    const look = !mine.answered || mine.sending === true || Context.current().info.attempt > 1;
    const known = mine.ref ?? (look ? await findPosted(channel, key, post.threadTs) : undefined);
    if (known) return remember(key, postedHere.remember(key, known));
    if (mine.answered && !mine.sending) await markSending(key, channel);
    const result = await callSlack('chat.postMessage', () =>
      slack().chat.postMessage({
        channel,
        text: post.text,
        ...(post.blocks ? { blocks: post.blocks as never } : {}),
        ...(post.threadTs ? { thread_ts: post.threadTs } : {}),
        ...((post.threadTs && post.broadcast ? { reply_broadcast: true } : {}) as object),
        metadata: { event_type: METADATA_EVENT, event_payload: { idempotency_key: key } },
        unfurl_links: false,
      }),
    );
    return remember(key, postedHere.remember(key, { channel: result.channel ?? channel, ts: result.ts! }));
  }

  return { postOnce, slack };
}
