import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { RemediationProgress, StepResult } from '../src/domain/remediation.js';

/**
 * Remediation -> incident: each step's result for the timeline, then how it
 * ended and whether the incident must escalate at once. Defined apart from
 * both workflows so each can import it.
 */
export const remediationProgressSignal = defineSignal<[RemediationProgress]>('remediationProgress');

export interface RemediationStatus {
  runbook: string;
  phase: 'starting' | 'running' | 'verifying' | 'resolved' | 'not-helped' | 'dry-run';
  steps: StepResult[];
}

export const remediationStatusQuery = defineQuery<RemediationStatus>('progress');
