import { ActivityFailure, ApplicationFailure, condition, getExternalWorkflowHandle, patched, proxyLocalActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { createIncidentStatusActivities } from '../activities/incident-status.js';
import type { createOnCallActivities } from '../activities/oncall.js';
import type { createPagingActivities, PageKind, PageRecord, PageRequest, PageResult } from '../activities/paging.js';
import { levelTimeoutMs, pageAllowedAt, targetKey, type EscalationPlan, type PageTarget } from '../src/domain/escalation.js';
import { NON_RETRYABLE_ERROR_TYPES } from '../src/domain/errors.js';
import type { Severity } from '../src/domain/severity.js';
import { pagingLocal, quickLocal, ownStoreLocal } from './activity-profiles.js';
import {
  escalationProgressSignal,
  skipLevelSignal,
  stopEscalationSignal,
  type EscalationProgress,
  type PageOutcome,
} from './escalation-signals.js';

/**
 * escalationWorkflow: the ladder of one incident, a child of it. Each level
 * pages its targets, then waits on a durable timer for the level's timeout;
 * an acknowledgement stops it, `skipLevel` fires the next level now. The
 * ladder repeats as the policy says, then runs its final action, then waits:
 * when the incident resolves, every target that was paged hears so.
 * A worker crash or a Temporal restart resumes the same wait: nothing is
 * lost, and each page's key makes a replayed send a no-op.
 */
export interface EscalationInput {
  incidentWorkflowId: string;
  incidentId: string;
  /** Which ladder of the incident this is (a reopened incident climbs a new one). */
  sequence: number;
  incident: { title: string; service: string; severity: Severity; link: string };
  plan: EscalationPlan;
}

export interface EscalationResult {
  outcome: 'acknowledged' | 'resolved';
  levelsPaged: number;
  pages: number;
}

// Local activities: a level's timer, its pages and the next timer take one workflow task.
const pager = proxyLocalActivities<ReturnType<typeof createPagingActivities>>(pagingLocal);
const history = proxyLocalActivities<ReturnType<typeof createPagingActivities>>(ownStoreLocal);
const oncall = proxyLocalActivities<ReturnType<typeof createOnCallActivities>>(quickLocal);
const incidentStatus = proxyLocalActivities<ReturnType<typeof createIncidentStatusActivities>>(quickLocal);

/**
 * Patch: the ladder checks that its incident still runs before each later
 * level and every 15 minutes once exhausted, so a terminated incident's
 * ladder pages nobody more. Ladders recorded before it replay without.
 */
const FOLLOWS_INCIDENT_PATCH = 'ladder-follows-incident';
const EXHAUSTED_CHECK_MS = 15 * 60_000;

/**
 * Patch: a page that fails for a reason retrying can fix (Slack down, a 5xx,
 * a timeout) is tried again on a durable timer, a trigger for as long as
 * nobody has answered, a follow-up until it gets through, instead of being
 * given up after its local retries. Rows of failed pages go through the
 * outbox too, flushed after a timer: a workflow task that has sent pages
 * completes at once, so a worker killed while our database is down does not
 * take the record of those sends with it (and send them again on replay).
 */
const PAGE_RETRIES_PATCH = 'page-retries-until-delivered';
const RETRY_FIRST_MS = 15_000;
const RETRY_MAX_MS = 60_000;
/** How long a trigger page is retried at most; nobody answering for this long has had the later levels. */
const TRIGGER_RETRY_FOR_MS = 6 * 3_600_000;
/** How long an acknowledgement or resolution is retried: PagerDuty keeps paging until it hears one. */
const FOLLOW_UP_RETRY_FOR_MS = 30 * 60_000;
const OUTBOX_DELAY_MS = 1000;

/** A page failure that trying again can fix: not refused for good, and not a type we never retry. */
function retryable(error: unknown): boolean {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) return !cause.nonRetryable && !NON_RETRYABLE_ERROR_TYPES.includes(cause.type as never);
  return true;
}

function failureText(error: unknown): string {
  return error instanceof ActivityFailure && error.cause instanceof ApplicationFailure ? error.cause.message : String((error as Error).message);
}

export async function escalationWorkflow(input: EscalationInput): Promise<EscalationResult> {
  const { workflowId } = workflowInfo();
  let stop: { reason: 'acknowledged' | 'resolved'; by: string } | undefined;
  let skips = 0;
  setHandler(stopEscalationSignal, (request) => {
    // Resolved outranks acknowledged: an acknowledged incident can still resolve.
    if (!stop || request.reason === 'resolved') stop = request;
  });
  setHandler(skipLevelSignal, () => {
    skips += 1;
  });

  const parent = getExternalWorkflowHandle(input.incidentWorkflowId);
  // An incident that has already closed no longer needs to hear from its ladder.
  const report = (progress: EscalationProgress) => parent.signal(escalationProgressSignal, progress).catch(() => undefined);
  const now = () => new Date().toISOString();
  /** Targets paged so far (by target key, with the person for people targets), with the provider's ID of the page, to follow up on. */
  const paged = new Map<string, { target: PageTarget; providerId: string; person?: PageRequest['person'] }>();
  let levelsPaged = 0;

  /**
   * Rows of `notifications` the database could not take when the page went
   * out. A page never waits on our own store: its row follows, each once
   * (rows are keyed), as soon as the database answers again.
   */
  const retriesPages = patched(PAGE_RETRIES_PATCH);
  const outbox: PageRecord[] = [];
  let flushing: Promise<void> | undefined;
  const owe = (entry: PageRecord) => {
    outbox.push(entry);
    flushing ??= (async () => {
      // The task that sent the pages completes first; the rows follow in a task of their own.
      if (retriesPages) await sleep(OUTBOX_DELAY_MS);
      for (let attempt = 0; outbox.length > 0; attempt += 1) {
        const batch = outbox.slice(0, 100);
        try {
          await history.recordPages({ records: batch });
          outbox.splice(0, batch.length);
        } catch {
          await sleep(Math.min(60_000, 5_000 * 2 ** Math.min(attempt, 4)));
        }
      }
      flushing = undefined;
    })();
  };

  const request = (target: PageTarget, kind: PageKind, key: string, level?: number, previous?: string): PageRequest => ({
    idempotencyKey: key,
    kind,
    target,
    incident: { id: input.incidentId, ...input.incident },
    ...(level !== undefined ? { level } : {}),
    ...(previous !== undefined ? { previous } : {}),
  });

  /** Where a trigger page belongs in the ladder, for the report of a late delivery. */
  interface LevelRef {
    cycle: number;
    level: number;
    final: boolean;
  }
  /** Pages being retried on durable timers; the ladder waits for them before it follows up or ends. */
  const retrying: Promise<void>[] = [];

  async function send(target: PageTarget, pageRequest: PageRequest, via?: PageTarget, where?: LevelRef): Promise<PageOutcome> {
    const person = pageRequest.person;
    const outcome = {
      target: targetKey(target),
      channel: target.type,
      ...(person && via ? { person: person.id, via: targetKey(via), reason: person.reason } : {}),
    };
    try {
      noteDelivered(target, pageRequest, await pager.sendPage(pageRequest));
      return { ...outcome, outcome: 'delivered' };
    } catch (error) {
      const cause = failureText(error);
      if (retriesPages && retryable(error)) {
        retrying.push(keepTrying(target, pageRequest, outcome, cause, where));
        return { ...outcome, outcome: 'retrying', error: cause };
      }
      await recordFailure(pageRequest, cause);
      return { ...outcome, outcome: 'failed', error: cause };
    }
  }

  function noteDelivered(target: PageTarget, pageRequest: PageRequest, result: PageResult): void {
    const person = pageRequest.person;
    const pagedKey = person ? `${person.id}:${targetKey(target)}` : targetKey(target);
    if (pageRequest.kind === 'trigger' && !paged.has(pagedKey)) paged.set(pagedKey, { target, providerId: result.providerId, ...(person ? { person } : {}) });
    if (result.unrecorded) owe({ request: pageRequest, outcome: 'delivered', providerId: result.providerId });
  }

  /**
   * A page that could not go out yet, tried again with a capped backoff: a
   * trigger until it gets through or somebody answers (then it is moot), an
   * acknowledgement or resolution until it gets through. Either way its row
   * says what happened, and the incident hears of a late delivery.
   */
  async function keepTrying(target: PageTarget, pageRequest: PageRequest, outcome: Omit<PageOutcome, 'outcome'>, firstError: string, where?: LevelRef): Promise<void> {
    const trigger = pageRequest.kind === 'trigger';
    const startedAt = Date.now();
    const tellIncident = (page: PageOutcome) =>
      where ? report({ kind: 'page', workflowId, cycle: where.cycle, level: where.level, at: now(), page, ...(where.final ? { final: true } : {}) }) : Promise.resolve();
    let lastError = firstError;
    for (let attempt = 0; ; attempt += 1) {
      const wait = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** attempt);
      if (trigger) await condition(() => stop !== undefined, wait);
      else await sleep(wait);
      if (trigger && stop) {
        owe({ request: pageRequest, outcome: 'failed', error: `not delivered before the incident was ${stop.reason}: ${lastError}`.slice(0, 1000) });
        return;
      }
      if (Date.now() - startedAt >= (trigger ? TRIGGER_RETRY_FOR_MS : FOLLOW_UP_RETRY_FOR_MS)) {
        const error = `gave up after ${Math.round((Date.now() - startedAt) / 60_000)} minutes of retries: ${lastError}`;
        owe({ request: pageRequest, outcome: 'failed', error });
        await tellIncident({ ...outcome, outcome: 'failed', error });
        return;
      }
      try {
        noteDelivered(target, pageRequest, await pager.sendPage(pageRequest));
        await tellIncident({ ...outcome, outcome: 'delivered' });
        return;
      } catch (error) {
        lastError = failureText(error);
        if (!retryable(error)) {
          owe({ request: pageRequest, outcome: 'failed', error: lastError });
          await tellIncident({ ...outcome, outcome: 'failed', error: lastError });
          return;
        }
      }
    }
  }

  /** Waits for the pages being retried, including any that start while it waits. */
  async function retriesDone(): Promise<void> {
    while (retrying.length > 0) await Promise.all(retrying.splice(0));
  }

  /** A failed page's row: written now, or owed when the database cannot take it. */
  async function recordFailure(pageRequest: PageRequest, error: string): Promise<void> {
    if (retriesPages) {
      owe({ request: pageRequest, outcome: 'failed', error });
      return;
    }
    try {
      await history.recordFailedPage({ request: pageRequest, error });
    } catch {
      owe({ request: pageRequest, outcome: 'failed', error });
    }
  }

  async function pageLevel(targets: PageTarget[], cycle: number, level: number, final: boolean): Promise<PageOutcome[]> {
    const label = final ? 'final' : `l${level}`;
    const where = { cycle, level, final };
    const base = `${input.incidentId}:esc${input.sequence}:c${cycle}:${label}`;
    const pages = await Promise.all(
      targets.map(async (target): Promise<PageOutcome[]> => {
        if (target.type !== 'schedule' && target.type !== 'person') return [await send(target, request(target, 'trigger', `${base}:${targetKey(target)}`, level), undefined, where)];
        // People targets page whoever they mean when the level fires: a handoff during the wait pages the new on-call.
        const who = await oncall.resolvePageTarget({ target, atMs: Date.now() });
        if (who.person === null || who.targets.length === 0) {
          const failed = request(target, 'trigger', `${base}:${targetKey(target)}`, level);
          await recordFailure({ ...failed, ...(who.person ? { person: { id: who.person, reason: who.reason } } : {}) }, who.reason);
          return [{ target: targetKey(target), channel: target.type, outcome: 'failed', error: who.reason, ...(who.person ? { person: who.person } : {}) }];
        }
        const person = { id: who.person, reason: who.reason };
        return Promise.all(
          who.targets.map((channel) =>
            send(channel, { ...request(channel, 'trigger', `${base}:${targetKey(target)}:${who.person}:${targetKey(channel)}`, level), person }, target, where),
          ),
        );
      }),
    );
    return pages.flat();
  }

  const followsIncident = patched(FOLLOWS_INCIDENT_PATCH);
  /** Stops the ladder when its incident no longer runs (it ended without telling us, or was terminated). */
  // Ladders that fire every few seconds check now and then, not before every level: a check is a server round trip.
  const checkEveryMs = input.plan.incidentCheckMs ?? 0;
  let checkedAt = Date.now();
  const incidentGone = async (force = false): Promise<boolean> => {
    if (!followsIncident || stop?.reason === 'resolved') return false;
    if (!force && Date.now() - checkedAt < checkEveryMs) return false;
    checkedAt = Date.now();
    const running = await incidentStatus.incidentRunning({ workflowId: input.incidentWorkflowId }).catch(() => true);
    if (!running) stop = { reason: 'resolved', by: 'system (the incident ended)' };
    return !running;
  };

  const { policy, responseTimesMs, businessHours } = input.plan;
  ladder: for (let cycle = 0; cycle <= policy.repeat; cycle += 1) {
    for (let index = 0; index < policy.levels.length; index += 1) {
      const level = policy.levels[index]!;
      if ((cycle > 0 || index > 0) && (await incidentGone())) break ladder;
      const allowedAt = pageAllowedAt(Date.now(), input.incident.severity, businessHours);
      if (allowedAt > Date.now()) {
        await report({ kind: 'deferred', workflowId, until: new Date(allowedAt).toISOString() });
        await condition(() => stop !== undefined, allowedAt - Date.now());
        if (stop) break ladder;
      }
      const startedAt = Date.now();
      const seenSkips = skips;
      const pages = await pageLevel(level.targets, cycle, index + 1, false);
      levelsPaged += 1;
      // A page still being retried has told nobody yet either.
      const allFailed = pages.every((page) => page.outcome !== 'delivered');
      const last = cycle === policy.repeat && index === policy.levels.length - 1;
      const nextAt = startedAt + levelTimeoutMs(level, input.incident.severity, responseTimesMs);
      await report({
        kind: 'level',
        workflowId,
        cycle,
        level: index + 1,
        at: new Date(startedAt).toISOString(),
        pages,
        ...(!last && !allFailed ? { nextLevelAt: new Date(nextAt).toISOString() } : {}),
      });
      if (stop) break ladder;
      // Every target of the level failed: nobody was told, so the next level fires at once.
      if (allFailed && !last) continue;
      await condition(() => stop !== undefined || skips > seenSkips, Math.max(0, nextAt - Date.now()));
      if (stop) break ladder;
    }
  }

  if (!stop && !(await incidentGone())) {
    if (policy.finalTargets.length > 0) {
      const pages = await pageLevel(policy.finalTargets, policy.repeat, policy.levels.length + 1, true);
      await report({ kind: 'level', workflowId, cycle: policy.repeat, level: policy.levels.length + 1, at: now(), pages, final: true });
    }
    await report({ kind: 'exhausted', workflowId, at: now() });
    if (followsIncident) {
      while (!(await condition(() => stop !== undefined, EXHAUSTED_CHECK_MS))) if (await incidentGone(true)) break;
    } else {
      await condition(() => stop !== undefined);
    }
  }

  // Acknowledged: PagerDuty hears it too; then wait for the resolution, which everyone hears.
  const followUp = async (kind: 'acknowledge' | 'resolve') =>
    Promise.all(
      [...paged.values()]
        .filter(({ target }) => kind === 'resolve' || target.type === 'pagerduty')
        .map(({ target, providerId, person }) =>
          send(target, {
            ...request(target, kind, `${input.incidentId}:esc${input.sequence}:${kind}:${person ? `${person.id}:` : ''}${targetKey(target)}`, undefined, providerId),
            ...(person ? { person } : {}),
          }),
        ),
    );
  // Trigger pages still being retried end now that somebody answered; those that got through are followed up too.
  await retriesDone();
  if (stop!.reason === 'acknowledged') {
    await followUp('acknowledge');
    if (followsIncident) {
      while (!(await condition(() => stop!.reason === 'resolved', EXHAUSTED_CHECK_MS))) await incidentGone(true);
    } else {
      await condition(() => stop!.reason === 'resolved');
    }
  }
  await followUp('resolve');
  await retriesDone();
  // Every page has its row before the ladder ends.
  while (flushing) await flushing;
  await report({ kind: 'finished', workflowId, at: now(), outcome: stop!.reason });
  return { outcome: stop!.reason, levelsPaged, pages: paged.size };
}
