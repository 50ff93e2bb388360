import { defineSignal } from '@temporalio/workflow';

/**
 * The messages between an incident and its escalation ladder, defined apart
 * from both workflows so each can import them.
 */

/** Incident -> ladder: stop paging (acknowledged), or stop and send resolutions (resolved). */
export const stopEscalationSignal = defineSignal<[{ reason: 'acknowledged' | 'resolved'; by: string }]>('stopEscalation');

/** Incident -> ladder: fire the next level now. */
export const skipLevelSignal = defineSignal<[{ by: string }]>('skipLevel');

export interface PageOutcome {
  target: string;
  channel: string;
  /** `retrying`: not through yet for a reason retrying can fix (Slack down, a 5xx); the ladder keeps trying on a durable timer. */
  outcome: 'delivered' | 'failed' | 'retrying';
  error?: string;
  /** For a schedule or person target: who it resolved to, and why. */
  person?: string;
  via?: string;
  reason?: string;
}

/** Ladder -> incident: what it did, for the timeline and the status query. */
export type EscalationProgress =
  | { kind: 'deferred'; workflowId: string; until: string }
  | { kind: 'level'; workflowId: string; cycle: number; level: number; at: string; pages: PageOutcome[]; nextLevelAt?: string; final?: boolean }
  /** A page of a level that was `retrying` has gone through, or has been given up. */
  | { kind: 'page'; workflowId: string; cycle: number; level: number; at: string; page: PageOutcome; final?: boolean }
  | { kind: 'exhausted'; workflowId: string; at: string }
  | { kind: 'finished'; workflowId: string; at: string; outcome: string };

export const escalationProgressSignal = defineSignal<[EscalationProgress]>('escalationProgress');
