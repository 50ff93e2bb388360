/**
 * Reports: the period a report covers and the figures it shows. A figure the
 * sources do not have is `undefined` and reads "no data", never zero.
 */
import type { Severity } from './severity.js';

export type ReportPeriod = 'daily' | 'weekly';

const DAY_MS = 86_400_000;

export interface ReportWindow {
  period: ReportPeriod;
  /** The first day covered (YYYY-MM-DD, UTC): the report's name. */
  date: string;
  start: string;
  end: string;
  /** The PromQL range of the whole period. */
  range: '1d' | '7d';
  /** The ends of the seven days the charts show, oldest first (each day is the 24 h before it). */
  chartDays: string[];
}

/**
 * The period a report made at `at` covers: the previous UTC day, or the
 * seven days before the last Monday 00:00 UTC. Charts always show seven days.
 */
export function reportWindow(period: ReportPeriod, at: Date | string): ReportWindow {
  const now = new Date(at);
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const sinceMonday = (new Date(today).getUTCDay() + 6) % 7;
  const end = period === 'daily' ? today : today - sinceMonday * DAY_MS;
  const start = end - (period === 'daily' ? DAY_MS : 7 * DAY_MS);
  const chartDays = Array.from({ length: 7 }, (_, index) => new Date(end - (6 - index) * DAY_MS).toISOString());
  return {
    period,
    date: new Date(start).toISOString().slice(0, 10),
    start: new Date(start).toISOString(),
    end: new Date(end).toISOString(),
    range: period === 'daily' ? '1d' : '7d',
    chartDays,
  };
}

export function reportObjectKey(prefix: string, window: Pick<ReportWindow, 'period' | 'date'>, extension: 'md' | 'html'): string {
  return `${prefix.replace(/\/+$/, '')}/${window.period}/${window.date}.${extension}`;
}

export interface DayFigure {
  /** The day's first instant (YYYY-MM-DD). */
  day: string;
  value?: number;
}

export interface ServiceFigures {
  service: string;
  availability?: number;
  errorRatio?: number;
  p50?: number;
  p95?: number;
  p99?: number;
  errorRatioByDay: DayFigure[];
  p95ByDay: DayFigure[];
  p99ByDay: DayFigure[];
}

export interface SloFigures {
  name: string;
  service: string;
  kind: 'availability' | 'latency';
  objective: number;
  threshold?: number;
  windowDays: number;
  /** Share of good requests over the SLO window ending with the period. */
  attainment?: number;
  /** 1 = untouched, 0 = spent, below 0 = overspent. */
  budgetLeft?: number;
  /** How fast the budget burned during the period (1 = exactly on budget). */
  burnRate?: number;
  budgetLeftByDay: DayFigure[];
}

export interface OperationsFigures {
  incidents: {
    opened: number;
    bySeverity: Record<Severity, number>;
    /** Mean time to acknowledge / resolve, of the incidents opened in the period that were. */
    mttaMs?: number;
    mttrMs?: number;
    acknowledged: number;
    resolved: number;
    /** Open at the end of the period, whenever they opened. */
    openAtEnd: number;
    noisiest: Array<{ alertname: string; alerts: number; incidents: number }>;
    openedByDay: DayFigure[];
  };
  backups: Array<{ database: string; succeeded: number; lastSuccess?: string; lastVerified?: string; lastBytes?: number }>;
  rollouts: { started: number; succeeded: number; rolledBack: number; failed: number };
  /** The deployment monitor's checks in the period, per deployment; absent in reports made before the monitor. */
  deployments?: Array<{ environment: string; deployment: string; checks: number; healthyRatio: number; averageScore: number; minScore: number; minReadyRatio: number; maxRestarts: number; lastState: string }>;
  /** Security findings open at the end of the period, most severe then oldest first; absent in reports made before findings were kept. */
  security?: { open: SecurityFindingFigure[]; bySeverity: Record<string, number> };
}

export interface SecurityFindingFigure {
  severity: string;
  vulnerability: string;
  package: string;
  workload: string;
  image: string;
  firstSeenAt: string;
  /** Whole days from first seen to the end of the period. */
  ageDays: number;
}

export interface ReportData {
  window: ReportWindow;
  generatedAt: string;
  services: ServiceFigures[];
  slos: SloFigures[];
  operations: OperationsFigures;
}

/** Budget left of an objective given the share of bad requests: 1 - bad / allowed. */
export function budgetLeft(objective: number, badRatio: number): number {
  return 1 - badRatio / (1 - objective);
}

export function burnRate(objective: number, badRatio: number): number {
  return badRatio / (1 - objective);
}
