/**
 * The deployment monitor's health score: 0-100 per deployment from what one
 * check saw, judged against its environment's thresholds. Pure, so the
 * monitor, its tests and the README agree on one formula:
 *
 *   score = round(100 * sum(weight * part) / sum(weight of the parts measured))
 *
 *   part        weight  1 when                    falls to 0
 *   readiness   40      ready/desired >= readyRatio  linearly to 0 ready
 *   restarts    20      no restarts               linearly to `restarts` restarts
 *   response    20      probe <= responseSeconds  linearly to twice that; a failed probe is 0
 *   cpu         10      use/limit <= cpu          linearly to use = limit
 *   memory      10      use/limit <= memory       linearly to use = limit
 *
 * A part without a measurement (no probe URL, no metrics, no limit or
 * request) is left out rather than guessed. A deployment scaled to 0 is
 * ready. `down`: fewer than half the desired replicas ready; `degraded`: a
 * score under 70.
 */
export interface DeploymentThresholds {
  readyRatio: number;
  restarts: number;
  responseSeconds: number;
  cpu: number;
  memory: number;
}

export interface DeploymentObservation {
  environment: string;
  namespace: string;
  deployment: string;
  desired: number;
  ready: number;
  available: number;
  updated: number;
  /** Container restarts of the pods running now. */
  restarts: number;
  responseSeconds?: number;
  /** Why the probe failed (an HTTP status, a timeout, a refused connection). */
  probeError?: string;
  /** Use over limits (requests when there is no limit). */
  cpuRatio?: number;
  memoryRatio?: number;
}

export type DeploymentState = 'healthy' | 'degraded' | 'down';

export interface DeploymentHealth extends DeploymentObservation {
  score: number;
  state: DeploymentState;
  /** What cost points, in words. */
  reasons: string[];
}

export const HEALTHY_SCORE = 70;
const WEIGHTS = { readiness: 40, restarts: 20, response: 20, cpu: 10, memory: 10 } as const;

const clamp = (value: number) => Math.min(1, Math.max(0, value));
/** 1 up to `mark`, then linearly to 0 at `zero`. */
const falling = (value: number, mark: number, zero: number) => (value <= mark ? 1 : zero <= mark ? 0 : clamp((zero - value) / (zero - mark)));

export function deploymentHealth(observation: DeploymentObservation, thresholds: DeploymentThresholds): DeploymentHealth {
  const reasons: string[] = [];
  const parts: Array<[number, number]> = [];
  const readyRatio = observation.desired === 0 ? 1 : observation.ready / observation.desired;
  const readiness = readyRatio >= thresholds.readyRatio ? 1 : clamp(readyRatio / thresholds.readyRatio);
  parts.push([WEIGHTS.readiness, readiness]);
  if (readiness < 1) reasons.push(`${observation.ready}/${observation.desired} ready`);

  const restarts = clamp(1 - observation.restarts / thresholds.restarts);
  parts.push([WEIGHTS.restarts, restarts]);
  if (observation.restarts > 0) reasons.push(`${observation.restarts} restarts`);

  if (observation.probeError !== undefined) {
    parts.push([WEIGHTS.response, 0]);
    reasons.push(`probe failed: ${observation.probeError}`);
  } else if (observation.responseSeconds !== undefined) {
    const response = falling(observation.responseSeconds, thresholds.responseSeconds, 2 * thresholds.responseSeconds);
    parts.push([WEIGHTS.response, response]);
    if (response < 1) reasons.push(`responded in ${observation.responseSeconds.toFixed(3)}s (threshold ${thresholds.responseSeconds}s)`);
  }
  for (const [name, ratio, mark] of [
    ['cpu', observation.cpuRatio, thresholds.cpu],
    ['memory', observation.memoryRatio, thresholds.memory],
  ] as const) {
    if (ratio === undefined) continue;
    const part = falling(ratio, mark, 1);
    parts.push([WEIGHTS[name], part]);
    if (part < 1) reasons.push(`${name} at ${Math.round(ratio * 100)}% of its limit (threshold ${Math.round(mark * 100)}%)`);
  }
  const weight = parts.reduce((sum, [partWeight]) => sum + partWeight, 0);
  const score = Math.round((100 * parts.reduce((sum, [partWeight, part]) => sum + partWeight * part, 0)) / weight);
  const state: DeploymentState = observation.desired > 0 && readyRatio < 0.5 ? 'down' : score < HEALTHY_SCORE ? 'degraded' : 'healthy';
  return { ...observation, score, state, reasons };
}
