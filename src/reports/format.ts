/** How the report writes numbers; anything the sources did not have is "no data". */
export const NO_DATA = 'no data';

export function percent(value: number | undefined, digits = 2): string {
  return value === undefined ? NO_DATA : `${(value * 100).toFixed(digits)}%`;
}

export function seconds(value: number | undefined): string {
  if (value === undefined) return NO_DATA;
  return value < 1 ? `${Math.round(value * 1000)} ms` : `${value.toFixed(2)} s`;
}

export function duration(ms: number | undefined): string {
  if (ms === undefined) return NO_DATA;
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

export function ratio(value: number | undefined, digits = 2): string {
  return value === undefined ? NO_DATA : value.toFixed(digits);
}

export function bytes(value: number | undefined): string {
  if (value === undefined) return NO_DATA;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${size.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function timestamp(iso: string | undefined): string {
  return iso === undefined ? NO_DATA : `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

export function title(data: { window: { period: string; date: string; start: string; end: string } }): string {
  const { period, start, end } = data.window;
  const last = new Date(Date.parse(end) - 1).toISOString().slice(0, 10);
  return period === 'daily' ? `Daily operations report, ${start.slice(0, 10)}` : `Weekly operations report, ${start.slice(0, 10)} to ${last}`;
}
