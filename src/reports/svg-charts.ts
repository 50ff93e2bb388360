import type { DayFigure } from '../domain/report.js';
import { NO_DATA } from './format.js';

/**
 * Small inline SVG charts for the HTML report: no script, no external file,
 * readable in a mail client. A day without data leaves a gap in its line
 * (never a drop to zero) and says "no data" in its tooltip.
 */
export interface ChartSeries {
  name: string;
  points: DayFigure[];
}

const WIDTH = 640;
const HEIGHT = 220;
const MARGIN = { top: 16, right: 16, bottom: 28, left: 64 };
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A round upper bound for the axis: 1, 2 or 5 times a power of ten. */
function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= value)!;
}

function frame(id: string, label: string, days: string[], top: number, bottom: number, format: (value: number) => string, body: string, legend: ChartSeries[]): string {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const y = (value: number) => MARGIN.top + plotHeight * (1 - (value - bottom) / (top - bottom));
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((fraction) => bottom + (top - bottom) * fraction);
  const grid = ticks
    .map((tick) => `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="#e5e7eb"/><text x="${MARGIN.left - 6}" y="${(y(tick) + 4).toFixed(1)}" font-size="11" text-anchor="end" fill="#6b7280">${escapeXml(format(tick))}</text>`)
    .join('');
  const step = plotWidth / Math.max(1, days.length);
  const labels = days.map((day, index) => `<text x="${(MARGIN.left + step * (index + 0.5)).toFixed(1)}" y="${HEIGHT - 8}" font-size="11" text-anchor="middle" fill="#6b7280">${day.slice(5)}</text>`).join('');
  const legendHtml = legend
    .map((series, index) => `<span style="color:${COLORS[index % COLORS.length]}">&#9632;</span> ${escapeXml(series.name)}${series.points.every((point) => point.value === undefined) ? ` (${NO_DATA})` : ''}`)
    .join(' &nbsp; ');
  return (
    `<figure data-chart="${id}"><figcaption>${escapeXml(label)}</figcaption>` +
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeXml(label)}"><title>${escapeXml(label)}</title>${grid}${labels}${body}</svg>` +
    `<div class="legend">${legendHtml}</div></figure>`
  );
}

/** One line per series over the days; `floor` lets a value go below zero (an overspent budget). */
export function lineChart(id: string, label: string, series: ChartSeries[], format: (value: number) => string, options: { min?: number; max?: number } = {}): string {
  const days = series[0]?.points.map((point) => point.day) ?? [];
  const known = series.flatMap((entry) => entry.points.map((point) => point.value).filter((value): value is number => value !== undefined));
  const top = options.max ?? niceMax(Math.max(0, ...known));
  const bottom = Math.min(options.min ?? 0, ...known.map((value) => (value < 0 ? -niceMax(-value) : 0)));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const step = plotWidth / Math.max(1, days.length);
  const x = (index: number) => MARGIN.left + step * (index + 0.5);
  const y = (value: number) => MARGIN.top + plotHeight * (1 - (value - bottom) / (top - bottom));
  const body = series
    .map((entry, index) => {
      const color = COLORS[index % COLORS.length];
      // Runs of consecutive known points; a missing day breaks the line.
      const runs: string[] = [];
      let current: string[] = [];
      entry.points.forEach((point, position) => {
        if (point.value === undefined) {
          if (current.length > 0) runs.push(current.join(' '));
          current = [];
        } else current.push(`${x(position).toFixed(1)},${y(point.value).toFixed(1)}`);
      });
      if (current.length > 0) runs.push(current.join(' '));
      const lines = runs.map((points) => `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points}"/>`).join('');
      const dots = entry.points
        .map((point, position) =>
          point.value === undefined
            ? ''
            : `<circle cx="${x(position).toFixed(1)}" cy="${y(point.value).toFixed(1)}" r="3" fill="${color}" data-series="${escapeXml(entry.name)}" data-day="${point.day}" data-value="${point.value}"><title>${escapeXml(`${entry.name} ${point.day}: ${format(point.value)}`)}</title></circle>`,
        )
        .join('');
      return lines + dots;
    })
    .join('');
  return frame(id, label, days, top, bottom, format, body, series);
}

/** Bars per day (one series). */
export function barChart(id: string, label: string, series: ChartSeries, format: (value: number) => string): string {
  const days = series.points.map((point) => point.day);
  const top = niceMax(Math.max(1, ...series.points.map((point) => point.value ?? 0)));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const step = plotWidth / Math.max(1, days.length);
  const body = series.points
    .map((point, index) => {
      if (point.value === undefined) return '';
      const height = (plotHeight * point.value) / top;
      return `<rect x="${(MARGIN.left + step * index + step * 0.2).toFixed(1)}" y="${(MARGIN.top + plotHeight - height).toFixed(1)}" width="${(step * 0.6).toFixed(1)}" height="${height.toFixed(1)}" fill="${COLORS[0]}" data-day="${point.day}" data-value="${point.value}"><title>${escapeXml(`${point.day}: ${format(point.value)}`)}</title></rect>`;
    })
    .join('');
  return frame(id, label, days, top, 0, format, body, [series]);
}
