import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { REPO_ROOT } from '../scripts/stack/paths.js';

/**
 * What every benchmark shares: the machine it ran on (CPU model, cores, load
 * average before and after: a figure means little without them), and
 * `--repeat N`, which runs the measurement N times and prints each figure's
 * min, median and max. The last line keeps its name (`ratio=`,
 * `p99_lateness_ms=`); with --repeat it is the median.
 */
export type Figures = Record<string, number>;

const say = (line: string) => process.stdout.write(`${line}\n`);

function load(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
}

/** `--repeat N` from the command line (1 without it); anything else is refused by name. */
export function repeatOption(argv = process.argv.slice(2)): number {
  let repeat = 1;
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index]!;
    const value = argument.startsWith('--repeat=') ? argument.slice('--repeat='.length) : argument === '--repeat' ? argv[++index] : undefined;
    if (value === undefined) throw new Error(`unknown option ${argument}: expected --repeat N`);
    repeat = Number(value);
    if (!Number.isInteger(repeat) || repeat < 1 || repeat > 20) throw new Error(`--repeat: expected a whole number from 1 to 20, got ${value}`);
  }
  return repeat;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function format(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(3);
}

/**
 * Runs `once` as often as asked. Each run prints its own detail and returns
 * its figures, the headline last; those are printed as `name=value` lines at
 * the end, medians when repeated, so the last line is the headline. With
 * `compiled`, `npm run build` runs once first (what it is built for, in words).
 */
export async function runBenchmark(name: string, once: (run: number) => Promise<Figures>, options: { compiled?: string } = {}): Promise<void> {
  const repeat = repeatOption();
  if (options.compiled) {
    say(`building (npm run build) for ${options.compiled} ...`);
    execFileSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const cpu = cpus();
  say(`machine: ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, load average ${load()} (1, 5, 15 min) before ${name}`);
  const runs: Figures[] = [];
  for (let run = 1; run <= repeat; run += 1) {
    if (repeat > 1) say(`\n=== ${name}: run ${run} of ${repeat} (load average ${load()}) ===`);
    runs.push(await once(run));
  }
  say(`machine: load average ${load()} after`);
  const names = Object.keys(runs[0] ?? {});
  if (repeat > 1) {
    say(`spread over ${repeat} runs:`);
    for (const figure of names) {
      const values = runs.map((entry) => entry[figure]!);
      say(`  ${figure}: min ${format(Math.min(...values))}, median ${format(median(values))}, max ${format(Math.max(...values))} (${values.map(format).join(', ')})`);
    }
  }
  for (const figure of names) say(`${figure}=${format(median(runs.map((entry) => entry[figure]!)))}`);
}
