import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { millis } from './proto-time.js';

/**
 * Where a page's lateness goes, read from the ladders' own histories (the
 * server's event times, on the same clock as the receiver). For a level due
 * at the previous level's start plus its timeout:
 *   timer set late: the timer for the wait starts when the workflow task that
 *     paged the previous level completes, not when the level started;
 *   timer fired late: the server's timer queue (dev server, SQLite);
 *   task queued: from the timer firing to a worker starting the workflow task
 *     (matching, and the worker's free workflow-task slots);
 *   worker to receiver: from that task's start to the page arriving
 *     (activation, the local activity, the HTTP call).
 * The four add up to the lateness.
 */
export const PARTS = ['timer set late', 'timer fired late', 'task queued', 'worker to receiver'] as const;
export type Part = (typeof PARTS)[number];

const { EventType } = proto.temporal.api.enums.v1;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

export interface LevelTiming {
  /** The previous level's start (its `at`), in ms. */
  previousAt: number;
  /** The level's page arriving at the receiver, in ms. */
  arrived: number;
}

/**
 * The parts of each timed level of one ladder: `levels[k]` is level k + 2
 * (level 1 fires at once).
 */
export function ladderBreakdown(workflowId: string, events: HistoryEvent[], levelTimeoutMs: number, levels: LevelTiming[]): Array<Record<Part, number>> {
  const timers = events.filter((event) => event.eventType === EventType.EVENT_TYPE_TIMER_STARTED);
  const fireAt = (event: HistoryEvent) => millis(event.eventTime) + millis(event.timerStartedEventAttributes?.startToFireTimeout);
  return levels.map((level, index) => {
    // The wait is the timer set to fire at the level's due time: shorter than the timeout when the
    // workflow's clock moved on while the previous level was paged, later by however long its task took
    // (a level paged past its due time waits 1 ms). It fires between the previous level and this page.
    const due = level.previousAt + levelTimeoutMs;
    const started = timers
      .filter((event) => fireAt(event) > level.previousAt && fireAt(event) <= level.arrived)
      .sort((a, b) => Math.abs(fireAt(a) - due) - Math.abs(fireAt(b) - due))[0];
    if (!started) {
      throw new Error(`${workflowId}: no wait timer before level ${index + 2} (timers: ${timers.map((event) => millis(event.timerStartedEventAttributes?.startToFireTimeout)).join(', ')} ms)`);
    }
    const firesAt = fireAt(started);
    const firedIndex = events.findIndex((event) => event.eventType === EventType.EVENT_TYPE_TIMER_FIRED && Number(event.timerFiredEventAttributes?.startedEventId) === Number(started.eventId));
    const fired = events[firedIndex];
    const task = events.slice(firedIndex + 1).find((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED);
    if (!fired || !task) throw new Error(`${workflowId}: the wait before level ${index + 2} did not fire into a workflow task`);
    return {
      'timer set late': firesAt - due,
      'timer fired late': millis(fired.eventTime) - firesAt,
      'task queued': millis(task.eventTime) - millis(fired.eventTime),
      'worker to receiver': level.arrived - millis(task.eventTime),
    };
  });
}

/** A workflow's history events, fetched once for both uses below. */
export async function historyEvents(client: Client, workflowId: string): Promise<HistoryEvent[]> {
  return (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
}

/** How many workflow tasks a history holds (what the worker's CPU was spent on). */
export function workflowTaskCount(events: HistoryEvent[]): number {
  return events.filter((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED).length;
}
