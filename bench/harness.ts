import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import type { TemporalKind } from '../scripts/stack/ephemeral-stack.js';
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

/**
 * Node flags that make a process the benchmark starts write a V8 CPU profile of
 * each of its threads into BENCH_CPU_PROFILE_DIR (node --cpu-prof), when set:
 * what the figures' CPU seconds were spent on.
 */
export function cpuProfileArgs(): string[] {
  const dir = process.env.BENCH_CPU_PROFILE_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/**
 * A Node process the benchmark measures, started from the repository with
 * `args` (flags and entry point) after the CPU-profile flags, `env` over ours,
 * its output dropped and its errors shown.
 */
export function startNodeProcess(args: readonly string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [...cpuProfileArgs(), ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
}

export type TemporalChoice = TemporalKind | 'both';

export interface BenchOptions {
  repeat: number;
  /** `--temporal dev|cluster|both`; undefined without the option (the dev server, today's load). */
  temporal: TemporalChoice | undefined;
}

/** `--repeat N` and, where the benchmark takes it, `--temporal dev|cluster|both`; anything else is refused by name. */
export function benchOptions(argv = process.argv.slice(2), acceptsTemporal = true): BenchOptions {
  const options: BenchOptions = { repeat: 1, temporal: undefined };
  const expected = acceptsTemporal ? '--repeat N or --temporal dev|cluster|both' : '--repeat N';
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index]!;
    const [flag, inline] = argument.startsWith('--') && argument.includes('=') ? [argument.slice(0, argument.indexOf('=')), argument.slice(argument.indexOf('=') + 1)] : [argument, undefined];
    if (flag !== '--repeat' && !(acceptsTemporal && flag === '--temporal')) throw new Error(`unknown option ${argument}: expected ${expected}`);
    const value = inline ?? argv[++index];
    if (flag === '--repeat') {
      options.repeat = Number(value);
      if (!Number.isInteger(options.repeat) || options.repeat < 1 || options.repeat > 20) throw new Error(`--repeat: expected a whole number from 1 to 20, got ${value}`);
    } else {
      if (value !== 'dev' && value !== 'cluster' && value !== 'both') throw new Error(`--temporal: expected dev, cluster or both, got ${value}`);
      options.temporal = value;
    }
  }
  return options;
}

/** What one measurement runs on: the Temporal back end, and whether `--temporal` asked for the raised load. */
export interface RunContext {
  run: number;
  temporal: TemporalKind;
  /** True when --temporal was given: the benchmark runs the load of the cluster comparison. */
  raisedLoad: boolean;
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
 * Runs `once` as often as asked, on each Temporal back end asked for. Each run
 * prints its own detail and returns its figures, the headline last; those are
 * printed as `name=value` lines at the end, medians when repeated, so the last
 * line is the headline. With `--temporal both` every figure is printed per
 * back end (`<name>_dev`, `<name>_cluster`) and the last two lines are the
 * headline's. With `compiled`, `npm run build` runs once first (what it is
 * built for, in words). `temporal: false` refuses --temporal (a benchmark that
 * does not use Temporal's persistence).
 */
export async function runBenchmark(
  name: string,
  once: (context: RunContext) => Promise<Figures>,
  options: { compiled?: string; temporal?: boolean } = {},
): Promise<void> {
  const { repeat, temporal } = benchOptions(process.argv.slice(2), options.temporal !== false);
  const backends: TemporalKind[] = temporal === 'both' ? ['dev', 'cluster'] : [temporal ?? 'dev'];
  const suffix = (kind: TemporalKind) => (temporal === 'both' ? `_${kind}` : '');
  if (options.compiled) {
    say(`building (npm run build) for ${options.compiled} ...`);
    execFileSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const cpu = cpus();
  say(`machine: ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, load average ${load()} (1, 5, 15 min) before ${name}`);
  const runs: Figures[] = [];
  let headline = '';
  for (let run = 1; run <= repeat; run += 1) {
    const figures: Figures = {};
    for (const kind of backends) {
      const label = temporal === undefined ? '' : ` on the ${kind === 'dev' ? 'dev server' : 'Temporal cluster'}`;
      if (repeat > 1 || backends.length > 1) say(`\n=== ${name}: run ${run} of ${repeat}${label} (load average ${load()}) ===`);
      else if (label) say(`\n=== ${name}${label} ===`);
      const result = await once({ run, temporal: kind, raisedLoad: temporal !== undefined });
      headline = Object.keys(result).at(-1) ?? '';
      for (const [figure, value] of Object.entries(result)) figures[`${figure}${suffix(kind)}`] = value;
    }
    runs.push(figures);
  }
  say(`machine: load average ${load()} after`);
  // The headline's lines last, in back-end order.
  const headlines = backends.map((kind) => `${headline}${suffix(kind)}`);
  const names = [...Object.keys(runs[0] ?? {}).filter((figure) => !headlines.includes(figure)), ...headlines];
  if (repeat > 1) {
    say(`spread over ${repeat} runs:`);
    for (const figure of names) {
      const values = runs.map((entry) => entry[figure]!);
      say(`  ${figure}: min ${format(Math.min(...values))}, median ${format(median(values))}, max ${format(Math.max(...values))} (${values.map(format).join(', ')})`);
    }
  }
  for (const figure of names) say(`${figure}=${format(median(runs.map((entry) => entry[figure]!)))}`);
}
