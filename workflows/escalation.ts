import { CancellationScope, condition, getExternalWorkflowHandle, patched, proxyLocalActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { createEscalationProgressActivities } from '../activities/escalation-progress.js';
import type { createIncidentStatusActivities } from '../activities/incident-status.js';
import type { createOnCallActivities } from '../activities/oncall.js';
import type { createPagingActivities, PageKind, PageRecord, PageRequest, PageResult } from '../activities/paging.js';
import { levelTimeoutMs, pageAllowedAt, targetKey, type EscalationPlan, type PageTarget } from '../src/domain/escalation.js';
import { NON_RETRYABLE_ERROR_TYPES } from '../src/domain/errors.js';
import { failureMessage, thrownFailure } from '../src/domain/failures.js';
import type { Severity } from '../src/domain/severity.js';
import { onceLocal, pagingLocal, quickLocal, ownStoreLocal } from './activity-profiles.js';
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
// Patched ladders' background work: one attempt each time, the ladder keeps the schedule.
const background = proxyLocalActivities<ReturnType<typeof createPagingActivities>>(onceLocal);
const oncall = proxyLocalActivities<ReturnType<typeof createOnCallActivities>>(quickLocal);
const incidentStatus = proxyLocalActivities<ReturnType<typeof createIncidentStatusActivities>>(quickLocal);
const incidentProgress = proxyLocalActivities<ReturnType<typeof createEscalationProgressActivities>>(quickLocal);

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
 * outbox too, flushed on the ladder's own ticks: a workflow task that has sent pages
 * completes at once, so a worker killed while our database is down does not
 * take the record of those sends with it (and send them again on replay).
 */
const PAGE_RETRIES_PATCH = 'page-retries-until-delivered';
const RETRY_FIRST_MS = 15_000;
const RETRY_MAX_MS = 60_000;
/** How often a trigger page is retried at most (about 6 hours); nobody answering for this long has had the later levels. */
const TRIGGER_RETRIES = 360;
/** How often an acknowledgement or resolution is retried (about 30 minutes): PagerDuty keeps paging until it hears one. */
const FOLLOW_UP_RETRIES = 32;
const OUTBOX_DELAY_MS = 1000;

/**
 * Patch: the ladder tells its incident from a local activity, an
 * exactly-once signal (activities/escalation-progress.ts), instead of a
 * signal command: the command's answer woke the ladder in a workflow task of
 * its own, one more per level for each of hundreds of ladders firing at
 * once. Reports go out one after another, in the order the ladder made them,
 * and the level's report answers when it was heard: the next level is timed
 * from then, not from the start of the task (workflow time stands still
 * through it), so the time its pages took no longer makes the next one late.
 */
const REPORTS_BY_ACTIVITY_PATCH = 'ladder-reports-from-local-activity';

/**
 * Whose on-call a level pages is decided for the time the level was due, not
 * the time its workflow task ran: a task lost after its pages went out (its
 * worker killed, its completion never taken by the server) runs again up to
 * a sticky timeout later, and "now" would then page the next person too,
 * across a handoff. A level due longer ago than this (workers down for long)
 * pages whoever is on call when it goes out.
 */
const ON_CALL_GRACE_MS = 2 * 60_000;

/**
 * The background work of a patched ladder is driven by counters and timers,
 * never by comparing clock times: `Date.now()` read after a local activity is
 * the time of that task live but of the next task on replay, so a decision on
 * it could issue other commands on replay. Each tick retries every page
 * still pending and flushes the outbox.
 */
const retryDelayMs = (attempts: number) => Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** attempts);
const outboxDelayMs = (failures: number) => (failures === 0 ? OUTBOX_DELAY_MS : Math.min(60_000, 5_000 * 2 ** Math.min(failures - 1, 4)));

/** A page failure that trying again can fix: not refused for good, and not a type we never retry. */
function retryable(error: unknown): boolean {
  const failure = thrownFailure(error);
  return !failure || (!failure.nonRetryable && !NON_RETRYABLE_ERROR_TYPES.includes(failure.type as never));
}


export async function escalationWorkflow(input: EscalationInput): Promise<EscalationResult> {
  const { workflowId, runId } = workflowInfo();
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
  const reportsByActivity = patched(REPORTS_BY_ACTIVITY_PATCH);
  let reportsMade = 0;
  let reporting: Promise<number | undefined> = Promise.resolve(undefined);
  /**
   * Tells the incident; resolves to when it heard, by the worker's clock (patched ladders), or
   * undefined. An incident that has already closed no longer needs to hear from its ladder.
   */
  const report = (update: EscalationProgress): Promise<number | undefined> => {
    if (!reportsByActivity) return parent.signal(escalationProgressSignal, update).then(() => undefined, () => undefined);
    reportsMade += 1;
    const request = { incidentWorkflowId: input.incidentWorkflowId, requestId: `${workflowId}/${runId}/progress-${reportsMade}`, progress: update };
    reporting = reporting.then(() => incidentProgress.reportEscalationProgress(request)).then(({ atMs }) => atMs, () => undefined);
    return reporting;
  };
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
  /** Patched ladders: how often in a row the outbox could not be flushed. */
  let outboxFailures = 0;
  const owe = (entry: PageRecord) => {
    outbox.push(entry);
    // Patched ladders flush from their own flow, in a task of their own (see runDueWork), never beside a send.
    if (retriesPages) return;
    flushing ??= (async () => {
      for (let attempt = 0; outbox.length > 0; attempt += 1) {
        const batch = outbox.slice(0, 100);
        try {
          await history.recordPages({ records: batch });
          outbox.splice(0, batch.length);
        } catch {
          await sleep(outboxDelayMs(attempt + 1));
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
    /** The time whose on-call the level's people targets page. */
    onCallAtMs?: number;
  }
  /** A page that could not go out yet (patched ladders), tried again at each tick of the ladder's background work. */
  interface PendingPage {
    target: PageTarget;
    request: PageRequest;
    outcome: Omit<PageOutcome, 'outcome'>;
    where?: LevelRef | undefined;
    lastError: string;
    attempts: number;
  }
  const pending: PendingPage[] = [];

  async function send(target: PageTarget, pageRequest: PageRequest, via?: PageTarget, where?: LevelRef): Promise<PageOutcome> {
    const person = pageRequest.person;
    const outcome = {
      target: targetKey(target),
      channel: target.type,
      ...(person && via ? { person: person.id, via: targetKey(via), reason: person.reason } : {}),
      ...(person && via && where?.onCallAtMs !== undefined ? { onCallAt: new Date(where.onCallAtMs).toISOString() } : {}),
    };
    try {
      noteDelivered(target, pageRequest, await pager.sendPage(pageRequest));
      return { ...outcome, outcome: 'delivered' };
    } catch (error) {
      const cause = failureMessage(error);
      if (retriesPages && retryable(error)) {
        pending.push({ target, request: pageRequest, outcome, where, lastError: cause, attempts: 0 });
        return { ...outcome, outcome: 'retrying', error: cause };
      }
      await recordFailure(pageRequest, cause);
      return { ...outcome, outcome: 'failed', error: cause };
    }
  }

  /** What a delivered page leaves behind; no workflow command here, so parallel sends stay deterministic. */
  function noteDelivered(target: PageTarget, pageRequest: PageRequest, result: PageResult): void {
    const person = pageRequest.person;
    const pagedKey = person ? `${person.id}:${targetKey(target)}` : targetKey(target);
    if (pageRequest.kind === 'trigger' && !paged.has(pagedKey)) paged.set(pagedKey, { target, providerId: result.providerId, ...(person ? { person } : {}) });
    if (result.unrecorded) owe({ request: pageRequest, outcome: 'delivered', providerId: result.providerId });
  }

  /** A failed page's row: owed (patched ladders), or written now and owed when the database cannot take it. */
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

  /** How long until the next tick of background work (pages to retry, rows to write), or undefined when there is none. */
  const nextTickMs = (): number | undefined => {
    const delays = [...pending.map((page) => retryDelayMs(page.attempts)), ...(outbox.length > 0 ? [outboxDelayMs(outboxFailures)] : [])];
    return delays.length > 0 ? Math.min(...delays) : undefined;
  };

  /**
   * The background work that is due, done in the ladder's own flow: local
   * activities that run beside each other and then issue commands replay in
   * another order than they ran (temporalio/sdk-typescript#1744), so retries
   * and the outbox are never coroutines of their own. A trigger nobody needs
   * any more (someone answered) is dropped with its row; a retry is given up
   * after its time, or at a final refusal, and the incident hears either way.
   */
  async function runDueWork(): Promise<void> {
    const reports: Promise<unknown>[] = [];
    const tell = (page: PendingPage, result: PageOutcome) => {
      if (page.where) reports.push(report({ kind: 'page', workflowId, cycle: page.where.cycle, level: page.where.level, at: now(), page: result, ...(page.where.final ? { final: true } : {}) }));
    };
    if (stop) {
      for (const page of pending.filter((entry) => entry.request.kind === 'trigger')) {
        pending.splice(pending.indexOf(page), 1);
        owe({ request: page.request, outcome: 'failed', error: `not delivered before the incident was ${stop.reason}: ${page.lastError}`.slice(0, 1000) });
      }
    }
    const due = pending.slice();
    if (due.length > 0) {
      for (const page of due) pending.splice(pending.indexOf(page), 1);
      const results = await Promise.all(due.map((page) => background.sendPage(page.request).then((result) => ({ result }), (error: unknown) => ({ error }))));
      results.forEach((answer, index) => {
        const page = due[index]!;
        if ('result' in answer) {
          noteDelivered(page.target, page.request, answer.result);
          tell(page, { ...page.outcome, outcome: 'delivered' });
          return;
        }
        page.lastError = failureMessage(answer.error);
        page.attempts += 1;
        const limit = page.request.kind === 'trigger' ? TRIGGER_RETRIES : FOLLOW_UP_RETRIES;
        if (!retryable(answer.error) || page.attempts >= limit) {
          const error = retryable(answer.error) ? `gave up after ${page.attempts} retries: ${page.lastError}` : page.lastError;
          owe({ request: page.request, outcome: 'failed', error: error.slice(0, 1000) });
          tell(page, { ...page.outcome, outcome: 'failed', error });
          return;
        }
        pending.push(page);
      });
    }
    if (outbox.length > 0) {
      const batch = outbox.slice(0, 100);
      try {
        await background.recordPages({ records: batch });
        outbox.splice(0, batch.length);
        outboxFailures = 0;
      } catch {
        outboxFailures += 1;
      }
    }
    await Promise.all(reports);
  }

  /**
   * Waits until `done` holds or `timeoutMs` passes (true when `done` held),
   * with a tick of background work whenever some is pending. Timers decide,
   * not clock comparisons (see retryDelayMs). Ladders from before the patch
   * wait exactly as they did.
   */
  async function wait(done: () => boolean, timeoutMs?: number): Promise<boolean> {
    if (!retriesPages) {
      if (timeoutMs !== undefined) return condition(done, timeoutMs);
      await condition(done);
      return true;
    }
    // The timers of this wait live in a scope of their own, cancelled once the wait is over.
    const timers = new CancellationScope();
    let expired = false;
    if (timeoutMs !== undefined) void timers.run(() => sleep(Math.max(1, timeoutMs))).then(() => (expired = true), () => undefined);
    try {
      for (;;) {
        if (done()) return true;
        if (expired) return false;
        const tickMs = nextTickMs();
        if (tickMs === undefined) {
          await condition(() => done() || expired);
          continue;
        }
        const tick = new CancellationScope();
        let ticked = false;
        void tick.run(() => sleep(tickMs)).then(() => (ticked = true), () => undefined);
        await condition(() => done() || expired || ticked);
        if (!ticked) {
          tick.cancel();
          continue;
        }
        await runDueWork();
      }
    } finally {
      timers.cancel();
    }
  }

  /** Before the ladder ends: the pages still being retried and the rows still owed, done (patched ladders). */
  async function finishWork(): Promise<void> {
    if (!retriesPages) return;
    await runDueWork();
    for (let tickMs = nextTickMs(); tickMs !== undefined; tickMs = nextTickMs()) {
      await sleep(tickMs);
      await runDueWork();
    }
  }

  async function pageLevel(targets: PageTarget[], cycle: number, level: number, final: boolean, dueAt: number): Promise<PageOutcome[]> {
    const label = final ? 'final' : `l${level}`;
    const base = `${input.incidentId}:esc${input.sequence}:c${cycle}:${label}`;
    // People targets page whoever they mean when the level is due: a handoff during the wait pages the new on-call.
    const nowMs = Date.now();
    const atMs = nowMs - dueAt <= ON_CALL_GRACE_MS ? Math.min(dueAt, nowMs) : nowMs;
    const where = { cycle, level, final, onCallAtMs: atMs };
    const resolve = (target: Extract<PageTarget, { type: 'schedule' | 'person' }>) => oncall.resolvePageTarget({ target, atMs });
    // Patched ladders resolve them all before any page goes out, so no send is scheduled from a resolution's continuation.
    const resolved = retriesPages
      ? await Promise.all(targets.map((target) => (target.type === 'schedule' || target.type === 'person' ? resolve(target) : undefined)))
      : undefined;
    const pages = await Promise.all(
      targets.map(async (target, index): Promise<PageOutcome[]> => {
        if (target.type !== 'schedule' && target.type !== 'person') return [await send(target, request(target, 'trigger', `${base}:${targetKey(target)}`, level), undefined, where)];
        const who = resolved?.[index] ?? (await resolve(target));
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
  /**
   * When the next level is due: at the ladder's start (as history records it; the run's start in
   * workflowInfo is its first task's, later when that task runs again), then each level's timeout later, or at a skip.
   */
  let dueAt = workflowInfo().startTime.getTime();
  ladder: for (let cycle = 0; cycle <= policy.repeat; cycle += 1) {
    for (let index = 0; index < policy.levels.length; index += 1) {
      const level = policy.levels[index]!;
      if ((cycle > 0 || index > 0) && (await incidentGone())) break ladder;
      const allowedAt = pageAllowedAt(Date.now(), input.incident.severity, businessHours);
      if (allowedAt > Date.now()) {
        await report({ kind: 'deferred', workflowId, until: new Date(allowedAt).toISOString() });
        await wait(() => stop !== undefined, allowedAt - Date.now());
        if (stop) break ladder;
        dueAt = allowedAt;
      }
      const startedAt = Date.now();
      const seenSkips = skips;
      const pages = await pageLevel(level.targets, cycle, index + 1, false, dueAt);
      levelsPaged += 1;
      // A page still being retried has told nobody yet either.
      const allFailed = pages.every((page) => page.outcome !== 'delivered');
      const last = cycle === policy.repeat && index === policy.levels.length - 1;
      const nextAt = startedAt + levelTimeoutMs(level, input.incident.severity, responseTimesMs);
      const reportedAt = await report({
        kind: 'level',
        workflowId,
        cycle,
        level: index + 1,
        at: new Date(startedAt).toISOString(),
        pages,
        ...(!last && !allFailed ? { nextLevelAt: new Date(nextAt).toISOString() } : {}),
      });
      if (stop) break ladder;
      // Every target of the level failed: nobody was told, so the next level fires at once (due with this one).
      if (allFailed && !last) continue;
      // Workflow time stands still through a task; the pages and the report took real time, which the
      // report's answer tells (within the level: a worker's clock is not trusted beyond it).
      const now = Math.min(nextAt, Math.max(Date.now(), reportedAt ?? 0));
      await wait(() => stop !== undefined || skips > seenSkips, Math.max(0, nextAt - now));
      if (stop) break ladder;
      dueAt = skips > seenSkips ? Date.now() : nextAt;
    }
  }

  if (!stop && !(await incidentGone())) {
    if (policy.finalTargets.length > 0) {
      const pages = await pageLevel(policy.finalTargets, policy.repeat, policy.levels.length + 1, true, dueAt);
      await report({ kind: 'level', workflowId, cycle: policy.repeat, level: policy.levels.length + 1, at: now(), pages, final: true });
    }
    await report({ kind: 'exhausted', workflowId, at: now() });
    if (followsIncident) {
      while (!(await wait(() => stop !== undefined, EXHAUSTED_CHECK_MS))) if (await incidentGone(true)) break;
    } else {
      await wait(() => stop !== undefined);
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
  if (retriesPages) await runDueWork();
  if (stop!.reason === 'acknowledged') {
    await followUp('acknowledge');
    if (followsIncident) {
      while (!(await wait(() => stop!.reason === 'resolved', EXHAUSTED_CHECK_MS))) await incidentGone(true);
    } else {
      await wait(() => stop!.reason === 'resolved');
    }
  }
  await followUp('resolve');
  await finishWork();
  // Every page has its row before the ladder ends.
  while (flushing) await flushing;
  await report({ kind: 'finished', workflowId, at: now(), outcome: stop!.reason });
  return { outcome: stop!.reason, levelsPaged, pages: paged.size };
}
