import { formatDuration } from './durations.js';

/**
 * The health check's rules, as pure decisions over what Kubernetes and
 * Prometheus report: stuck pods, CPU against requests over a window, and
 * memory that keeps growing. A figure Prometheus does not have for the whole
 * window decides nothing.
 */

export type HealthRule = 'pods' | 'cpu' | 'memory';
export type HealthAction = 'delete-pod' | 'scale-up' | 'scale-down' | 'rolling-restart' | 'none';

export interface HealthDecision {
  /** `<namespace>/<deployment>`. */
  target: string;
  rule: HealthRule;
  action: HealthAction;
  /** Whether the action was taken (false for `none`, refusals and dry runs). */
  taken: boolean;
  reason: string;
  pod?: string;
  from?: number;
  to?: number;
}

export interface PodReadiness {
  name: string;
  ready: boolean;
  phase: string;
  /** When the pod last stopped being ready (or started, if it never was). */
  notReadySince?: string;
  owner?: string;
}

/** Subqueries sample each window at this many points; a window needs all but one of them. */
export const WINDOW_POINTS = 10;

/** PromQL over a window of a one-number query: its lowest, highest and sample count, or its slope. */
export function windowQueries(query: string, windowMs: number): { min: string; max: string; count: string; deriv: string } {
  const promDuration = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
  const range = `[${promDuration(Math.max(1000, Math.round(windowMs)))}:${promDuration(Math.max(1, Math.round(windowMs / WINDOW_POINTS)))}]`;
  const inner = `(${query})${range}`;
  return { min: `min_over_time(${inner})`, max: `max_over_time(${inner})`, count: `count_over_time(${inner})`, deriv: `deriv(${inner})` };
}

export function windowCovered(samples: number | undefined): boolean {
  return samples !== undefined && samples >= WINDOW_POINTS - 1;
}


/** Pods that are not Running and Ready, and have not been for at least `notReadyForMs`. */
export function stuckPods(pods: PodReadiness[], now: number, notReadyForMs: number): Array<PodReadiness & { forMs: number }> {
  return pods
    .filter((pod) => !(pod.ready && pod.phase === 'Running') && pod.notReadySince !== undefined)
    .map((pod) => ({ ...pod, forMs: now - Date.parse(pod.notReadySince!) }))
    .filter((pod) => pod.forMs >= notReadyForMs);
}

export interface CpuSettings {
  scaleUpAbove: number;
  scaleUpFor: number;
  scaleDownBelow: number;
  scaleDownFor: number;
  minReplicas: number;
  maxReplicas: number;
}

export interface WindowFigures {
  /** Lowest value over the scale-up window, with its sample count. */
  upMin?: number;
  upSamples?: number;
  /** Highest value over the scale-down window, with its sample count. */
  downMax?: number;
  downSamples?: number;
}

/** Scale up by one when CPU stayed above its mark for the whole window, down by one when it stayed below. */
export function cpuDecision(
  target: string,
  replicas: number,
  figures: WindowFigures,
  settings: CpuSettings,
): Omit<HealthDecision, 'taken'> & { action: 'scale-up' | 'scale-down' | 'none'; refused?: string } {
  const percent = (value: number) => `${Math.round(value * 1000) / 10}%`;
  if (windowCovered(figures.upSamples) && figures.upMin !== undefined && figures.upMin > settings.scaleUpAbove) {
    const reason = `CPU above ${percent(settings.scaleUpAbove)} of requests for ${formatDuration(settings.scaleUpFor)} (lowest ${percent(figures.upMin)})`;
    if (replicas >= settings.maxReplicas) return { target, rule: 'cpu', action: 'scale-up', from: replicas, reason, refused: `already at the maximum of ${settings.maxReplicas} replicas` };
    return { target, rule: 'cpu', action: 'scale-up', from: replicas, to: replicas + 1, reason };
  }
  if (windowCovered(figures.downSamples) && figures.downMax !== undefined && figures.downMax < settings.scaleDownBelow) {
    const reason = `CPU below ${percent(settings.scaleDownBelow)} of requests for ${formatDuration(settings.scaleDownFor)} (highest ${percent(figures.downMax)})`;
    if (replicas <= settings.minReplicas) return { target, rule: 'cpu', action: 'scale-down', from: replicas, reason, refused: `already at the minimum of ${settings.minReplicas} replicas` };
    return { target, rule: 'cpu', action: 'scale-down', from: replicas, to: replicas - 1, reason };
  }
  if (!windowCovered(figures.upSamples) && !windowCovered(figures.downSamples)) {
    return { target, rule: 'cpu', action: 'none', reason: 'no data: Prometheus has no CPU figures for the whole window' };
  }
  const parts = [
    figures.upMin !== undefined ? `lowest ${percent(figures.upMin)} over ${formatDuration(settings.scaleUpFor)} (scale up above ${percent(settings.scaleUpAbove)})` : undefined,
    figures.downMax !== undefined ? `highest ${percent(figures.downMax)} over ${formatDuration(settings.scaleDownFor)} (scale down below ${percent(settings.scaleDownBelow)})` : undefined,
  ].filter(Boolean);
  return { target, rule: 'cpu', action: 'none', reason: `CPU within bounds: ${parts.join('; ')}` };
}

export interface MemorySettings {
  maxGrowthPerHour: number;
  over: number;
}

/** A rolling restart when memory grew faster than the limit across the whole window. */
export function memoryDecision(
  target: string,
  growthPerSecond: number | undefined,
  samples: number | undefined,
  settings: MemorySettings,
): Omit<HealthDecision, 'taken'> & { action: 'rolling-restart' | 'none' } {
  if (!windowCovered(samples) || growthPerSecond === undefined) {
    return { target, rule: 'memory', action: 'none', reason: `no data: Prometheus has no memory figures for the whole ${formatDuration(settings.over)}` };
  }
  const perHour = growthPerSecond * 3600;
  const mb = (bytes: number) => `${Math.round(bytes / 100_000) / 10} MB`;
  if (perHour > settings.maxGrowthPerHour) {
    return { target, rule: 'memory', action: 'rolling-restart', reason: `memory grew ${mb(perHour)}/h over ${formatDuration(settings.over)} (limit ${mb(settings.maxGrowthPerHour)}/h)` };
  }
  return { target, rule: 'memory', action: 'none', reason: `memory growth ${mb(perHour)}/h within ${mb(settings.maxGrowthPerHour)}/h` };
}

export function selfHealingDedupKey(namespace: string, deployment: string): string {
  return `self-healing-${namespace}-${deployment}`;
}
