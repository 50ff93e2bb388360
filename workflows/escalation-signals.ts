import { defineSignal } from '@temporalio/workflow';
import type { EscalationProgress } from '../src/domain/escalation.js';

export type { EscalationProgress, PageOutcome } from '../src/domain/escalation.js';

/**
 * The messages between an incident and its escalation ladder, defined apart
 * from both workflows so each can import them.
 */

/** Incident -> ladder: stop paging (acknowledged), or stop and send resolutions (resolved). */
export const stopEscalationSignal = defineSignal<[{ reason: 'acknowledged' | 'resolved'; by: string }]>('stopEscalation');

/** Incident -> ladder: fire the next level now. */
export const skipLevelSignal = defineSignal<[{ by: string }]>('skipLevel');

export const escalationProgressSignal = defineSignal<[EscalationProgress]>('escalationProgress');
