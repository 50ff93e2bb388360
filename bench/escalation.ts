import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { alertsSignal, resolveUpdate, statusQuery, INCIDENT_WORKFLOW, type IncidentWorkflow } from '../workflows/incident-contract.js';
import type { AlertBatch } from '../src/domain/alerts.js';
import { ephemeralStackEnv, startEphemeralStack } from '../scripts/stack/ephemeral-stack.js';
import { waitFor } from '../scripts/stack/net.js';
import { waitForTaskQueuePoller } from '../scripts/stack/temporal.js';
import { runBenchmark, startNodeProcess, type Figures, type RunContext } from './harness.js';
import { peakRssMiB, rssNowMiB } from './process-memory.js';
import { cpuSeconds } from './process-cpu.js';
import { historyEvents, ladderBreakdown, PARTS, workflowTaskCount, type LevelTiming, type Part } from './escalation-breakdown.js';
import { heapFlag, WORKER_V8_FLAGS, workerSizing } from '../workers/memory-budget.js';
import { incidentWorkflowId } from '../src/domain/workflow-ids.js';

/**
 * Escalation timing under load (npm run bench:escalation): 500 open incidents
 * whose ladders fire a level every 10 seconds, on one worker process (2,000 with
 * --temporal dev|cluster|both, which runs on the dev server, a Temporal cluster
 * on PostgreSQL, or both one after the other, and prints each figure per back end). Half of
 * them page a schedule target (whoever is on call for a rotation of four
 * people that hands over every 7 seconds, resolved when the level fires, run-time
 * overrides read from PostgreSQL); the other half, the baseline in the same
 * run, page the same webhook directly. Each page goes to a local webhook
 * receiver that notes when it arrived; a page's lateness is its arrival minus
 * its due time (the previous level's start plus the 10-second timeout).
 * Prints p50/p99/max lateness of both, where it went (bench/escalation-breakdown.ts,
 * from the ladders' histories), the CPU of the worker and the dev server, the
 * ratio of their p99s, the compiled worker's idle and peak RSS under its memory
 * budget (BENCH_WORKER_MEMORY_MB, default 1024; 0 for the SDK's defaults), and
 * a last line `p99_lateness_ms=<n>` (the schedule targets'). `--repeat N`
 * repeats it and prints the spread (bench/harness.ts). BENCH_CPU_PROFILE_DIR
 * has the worker write CPU profiles of its threads there.
 */

/** 500 ladders; with --temporal (the back-end comparison) 2,000. */
const incidentCount = (raisedLoad: boolean) => Number(process.env.BENCH_INCIDENTS ?? (raisedLoad ? 2000 : 500));
const LEVELS = Number(process.env.BENCH_LEVELS ?? 4);
const LEVEL_SECONDS = 10;
const TASK_QUEUE = 'bench-escalation';
/** The worker's memory budget (OPS_WORKER_MEMORY_MB and the heap flag that goes with it); 0 runs it on the SDK's defaults. */
const MEMORY_MB = Number(process.env.BENCH_WORKER_MEMORY_MB ?? 1024);
const PEOPLE = ['ada', 'bea', 'cy', 'dee'];
/** Every other incident pages the schedule; the rest are the baseline. */
const bySchedule = (index: number) => index % 2 === 0;
const say = (line: string) => process.stdout.write(`${line}\n`);


async function once({ temporal, raisedLoad }: RunContext): Promise<Figures> {
  const incidents = incidentCount(raisedLoad);
  // The receiver: arrival time by idempotency key (incident, ladder, level, target).
  const arrivals = new Map<string, number>();
  const receiver = createServer((request, response) => {
    const key = String(request.headers['idempotency-key']);
    // Level pages only; the resolutions sent at the end are not timed.
    if (key.includes(':esc1:c0:l') && !arrivals.has(key)) arrivals.set(key, Date.now());
    request.resume();
    request.on('end', () => response.writeHead(200).end('{}'));
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/page`;

  const { stack, pids, stop } = await startEphemeralStack('bench', say, { temporal, clusterMaxConns: 20 });
  const serverCpu = () => pids.temporal.reduce((sum, pid) => sum + cpuSeconds(pid).self, 0);
  let worker: ChildProcess | undefined;
  try {
    const policyFile = join(stack.runDir, 'escalation-bench.yaml');
    writeFileSync(
      policyFile,
      [
        'version: 1',
        'oncall:',
        '  people:',
        ...PEOPLE.map((person) => `    ${person}: { name: ${person}, webhook: { url: "${hookUrl}" } }`),
        '  schedules:',
        '    bench:',
        '      timeZone: UTC',
        `      layers: [{ people: [${PEOPLE.join(', ')}], start: "${new Date(Date.now() - 3_600_000).toISOString().slice(0, 16)}", shift: 7s }]`,
        'escalation:',
        '  defaultPolicy: bench',
        '  routes: [{ matchers: [\'targets="schedule"\'], policy: bench-schedule }]',
        '  policies:',
        '    - name: bench',
        '      levels:',
        ...Array.from({ length: LEVELS }, () => [`        - timeout: ${LEVEL_SECONDS}s`, `          targets: [{ type: webhook, url: "${hookUrl}" }]`]).flat(),
        '    - name: bench-schedule',
        '      levels:',
        ...Array.from({ length: LEVELS }, () => [`        - timeout: ${LEVEL_SECONDS}s`, '          targets: [{ type: schedule, schedule: bench }]']).flat(),
        '',
      ].join('\n'),
    );
    // The compiled worker, as the image runs it (its command's flags), under the budget's heap limit.
    worker = startNodeProcess([...(MEMORY_MB > 0 ? [heapFlag(MEMORY_MB)] : []), ...WORKER_V8_FLAGS, 'dist/workers/main.js'], {
      ...ephemeralStackEnv(stack),
      OPS_TASK_QUEUE: TASK_QUEUE,
      OPS_CONFIG: policyFile,
      OPS_WORKFLOW_BUNDLE: stack.workflowBundlePath,
      OPS_WORKER_METRICS_PORT: '0',
      OPS_LOG_LEVEL: 'warn',
      // As the image sets it: fewer malloc arenas for Core's threads, about 60 MiB less at peak.
      MALLOC_ARENA_MAX: '2',
      ...(MEMORY_MB > 0 ? { OPS_WORKER_MEMORY_MB: String(MEMORY_MB) } : {}),
    });
    const connection = await Connection.connect({ address: stack.temporalAddress });
    const client = new Client({ connection });
    await waitForTaskQueuePoller(connection, 'default', TASK_QUEUE);
    const idleRss = peakRssMiB(worker.pid!);
    const sizing = MEMORY_MB > 0 ? workerSizing(MEMORY_MB) : undefined;
    say(
      sizing
        ? `worker budget ${MEMORY_MB} MB: ${sizing.maxCachedWorkflows} cached workflows, ${sizing.maxConcurrentWorkflowTaskExecutions} workflow task slots, heap ${sizing.heapMb} MB; idle RSS ${idleRss.toFixed(0)} MiB`
        : `worker on the SDK's defaults; idle RSS ${idleRss.toFixed(0)} MiB`,
    );

    say(`opening ${incidents} incidents, each climbing ${LEVELS} levels ${LEVEL_SECONDS}s apart ...`);
    const ids: Array<{ id: string; schedule: boolean }> = [];
    const openStarted = Date.now();
    const cpuBefore = { worker: cpuSeconds(worker.pid!).self, server: serverCpu(), at: Date.now() };
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < incidents) {
          const index = next++;
          const dedupKey = `bench-esc-${index}`;
          await client.workflow.signalWithStart<IncidentWorkflow, [AlertBatch]>(INCIDENT_WORKFLOW, {
            workflowId: incidentWorkflowId(dedupKey),
            taskQueue: TASK_QUEUE,
            args: [{ dedupKey, source: 'alertmanager' }],
            signal: alertsSignal,
            signalArgs: [
              {
                source: 'alertmanager',
                receivedAt: new Date().toISOString(),
                alerts: [
                  {
                    fingerprint: `f${index}`,
                    status: 'firing',
                    labels: { alertname: 'Bench', service: `svc-${index % 50}`, severity: 'critical', targets: bySchedule(index) ? 'schedule' : 'webhook' },
                    annotations: {},
                    startsAt: '2026-11-23T10:00:00Z',
                  },
                ],
              },
            ],
          });
          ids.push({ id: incidentWorkflowId(dedupKey), schedule: bySchedule(index) });
        }
      }),
    );
    say(`  opened in ${((Date.now() - openStarted) / 1000).toFixed(1)}s; waiting for every ladder to reach level ${LEVELS} ...`);
    const expectedPages = incidents * LEVELS;
    await waitFor('every page', async () => arrivals.size >= expectedPages, (LEVELS * LEVEL_SECONDS + 600) * 1000, 1000);
    const cpu = {
      worker: cpuSeconds(worker.pid!).self - cpuBefore.worker,
      server: serverCpu() - cpuBefore.server,
      seconds: (Date.now() - cpuBefore.at) / 1000,
    };

    // Due time of level n: the start of level n-1, as the ladder recorded it, plus the timeout.
    const lateness = { schedule: [] as number[], baseline: [] as number[] };
    const handoffs = new Set<string>();
    const timings: Array<{ id: string; ladder: string; schedule: boolean; levels: LevelTiming[] }> = [];
    for (const { id, schedule } of ids) {
      const handle = client.workflow.getHandle(id);
      const status = await handle.query(statusQuery);
      const ladder = (await handle.describe()).raw.pendingChildren?.find((child) => child.workflowId?.endsWith('/escalation-1'))?.workflowId;
      if (!ladder) throw new Error(`${id}: its escalation ladder is not running`);
      const levels: LevelTiming[] = [];
      timings.push({ id, ladder, schedule, levels });
      const pages = status.escalation?.pages ?? [];
      for (let level = 2; level <= LEVELS; level += 1) {
        const previous = pages.find((page) => page.level === level - 1);
        const page = pages.find((candidate) => candidate.level === level);
        const key = schedule
          ? `${status.incidentId}:esc1:c0:l${level}:schedule:bench:${page?.person}:webhook:${hookUrl}`
          : `${status.incidentId}:esc1:c0:l${level}:webhook:${hookUrl}`;
        const arrived = arrivals.get(key);
        if (!previous || arrived === undefined) throw new Error(`${id}: level ${level} page missing`);
        if (schedule && previous.person !== page?.person) handoffs.add(id);
        (schedule ? lateness.schedule : lateness.baseline).push(arrived - (Date.parse(previous.at) + LEVEL_SECONDS * 1000));
        levels.push({ previousAt: Date.parse(previous.at), arrived });
      }
    }
    // Where the lateness went, from the ladders' histories, and what the workflow tasks cost.
    const parts = { schedule: new Map<Part, number[]>(PARTS.map((part) => [part, []])), baseline: new Map<Part, number[]>(PARTS.map((part) => [part, []])) };
    let tasks = 0;
    for (let offset = 0; offset < timings.length; offset += 16) {
      await Promise.all(
        timings.slice(offset, offset + 16).map(async ({ id, ladder, schedule, levels }) => {
          const [ladderEvents, incidentEvents] = await Promise.all([historyEvents(client, ladder), historyEvents(client, id)]);
          for (const level of ladderBreakdown(ladder, ladderEvents, LEVEL_SECONDS * 1000, levels)) {
            for (const part of PARTS) (schedule ? parts.schedule : parts.baseline).get(part)!.push(level[part]);
          }
          tasks += workflowTaskCount(ladderEvents) + workflowTaskCount(incidentEvents);
        }),
      );
    }
    const quantile = (values: number[], q: number) => values[Math.min(values.length - 1, Math.floor(q * values.length))]!;
    for (const values of Object.values(lateness)) values.sort((a, b) => a - b);
    const rss = peakRssMiB(worker.pid!);
    const memory = rssNowMiB(worker.pid!);

    say('  resolving every incident ...');
    // 32 at a time, as they were opened: thousands of updates at once outlast the RPC deadline.
    let resolved = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (resolved < ids.length) await client.workflow.getHandle(ids[resolved++]!.id).executeUpdate(resolveUpdate, { args: [{ by: 'bench' }] });
      }),
    );
    await connection.close();

    const p99 = quantile(lateness.schedule, 0.99);
    const baseline = quantile(lateness.baseline, 0.99);
    say('');
    say(`pages: ${arrivals.size} (expected ${expectedPages}); timed pages (levels 2-${LEVELS}): ${lateness.schedule.length} by schedule, ${lateness.baseline.length} direct`);
    say(`ladders whose later level paged a new on-call after a handoff: ${handoffs.size} of ${lateness.schedule.length / (LEVELS - 1)}`);
    for (const [name, values] of Object.entries(lateness)) {
      say(`lateness (${name === 'schedule' ? 'schedule targets' : 'webhook targets, baseline'}): p50 ${quantile(values, 0.5)} ms, p99 ${quantile(values, 0.99)} ms, max ${values.at(-1)} ms`);
    }
    say(`lateness breakdown, ms (p50 / p99 / max):`);
    for (const [name, byPart] of Object.entries(parts)) {
      say(`  ${name === 'schedule' ? 'schedule targets' : 'webhook targets, baseline'}:`);
      for (const [part, values] of byPart) {
        values.sort((a, b) => a - b);
        say(`    ${part.padEnd(20)} ${quantile(values, 0.5).toFixed(0)} / ${quantile(values, 0.99).toFixed(0)} / ${values.at(-1)!.toFixed(0)}`);
      }
    }
    say(
      `worker CPU ${cpu.worker.toFixed(1)} s over ${cpu.seconds.toFixed(0)} s of opening and ladders (${((cpu.worker / cpu.seconds) * 100).toFixed(0)}% of one core), ${tasks} workflow tasks in all: ${((cpu.worker * 1000) / Math.max(tasks, 1)).toFixed(1)} ms each at most`,
    );
    const server = temporal === 'cluster' ? 'Temporal cluster (4 processes, PostgreSQL not counted)' : `dev server (SQLite ${process.env.OPS_TEMPORAL_IN_MEMORY === '1' ? 'in memory' : 'on disk'})`;
    say(`${server} CPU ${cpu.server.toFixed(1)} s (${((cpu.server / cpu.seconds) * 100).toFixed(0)}% of one core)`);
    say(`worker peak RSS ${rss.toFixed(0)} MiB (idle ${idleRss.toFixed(0)} MiB${MEMORY_MB > 0 ? `, budget ${MEMORY_MB} MB` : ''}; at the end anonymous ${memory.anon.toFixed(0)} MiB, file-backed ${memory.file.toFixed(0)} MiB)`);
    if (arrivals.size !== expectedPages) process.exitCode = 1;
    return { worker_peak_rss_mib: Math.round(rss), baseline_p99_lateness_ms: baseline, ratio: Number((p99 / Math.max(baseline, 1)).toFixed(3)), p99_lateness_ms: p99 };
  } finally {
    if (worker) {
      worker.kill('SIGTERM');
      await new Promise((resolve) => (worker!.exitCode !== null ? resolve(null) : worker!.once('exit', resolve)));
    }
    receiver.close();
    await stop();
  }
}

runBenchmark('bench:escalation', once, { compiled: 'the compiled worker' }).catch((error: unknown) => {
  process.stderr.write(`bench:escalation failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
