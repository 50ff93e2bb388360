import { spawn, type ChildProcess } from 'node:child_process';
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
import { peakRssMiB } from './process-memory.js';
import { REPO_ROOT } from '../scripts/stack/paths.js';
import { incidentWorkflowId } from '../src/domain/workflow-ids.js';

/**
 * Escalation timing under load (npm run bench:escalation): 500 open incidents
 * whose ladders fire a level every 10 seconds, on one worker process. Half of
 * them page a schedule target (whoever is on call for a rotation of four
 * people that hands over every 7 seconds, resolved when the level fires, run-time
 * overrides read from PostgreSQL); the other half, the baseline in the same
 * run, page the same webhook directly. Each page goes to a local webhook
 * receiver that notes when it arrived; a page's lateness is its arrival minus
 * its due time (the previous level's start plus the 10-second timeout).
 * Prints p50/p99/max lateness of both, the ratio of their p99s, the worker's
 * peak RSS, and a last line `p99_lateness_ms=<n>` (the schedule targets').
 */

const INCIDENTS = Number(process.env.BENCH_INCIDENTS ?? 500);
const LEVELS = Number(process.env.BENCH_LEVELS ?? 4);
const LEVEL_SECONDS = 10;
const TASK_QUEUE = 'bench-escalation';
const PEOPLE = ['ada', 'bea', 'cy', 'dee'];
/** Every other incident pages the schedule; the rest are the baseline. */
const bySchedule = (index: number) => index % 2 === 0;
const say = (line: string) => process.stdout.write(`${line}\n`);


async function main() {
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

  const { stack, stop } = await startEphemeralStack('bench', say);
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
    worker = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        ...ephemeralStackEnv(stack),
        OPS_TASK_QUEUE: TASK_QUEUE,
        OPS_CONFIG: policyFile,
        OPS_WORKFLOW_BUNDLE: stack.workflowBundlePath,
        OPS_WORKER_METRICS_PORT: '0',
        OPS_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const connection = await Connection.connect({ address: stack.temporalAddress });
    const client = new Client({ connection });
    await waitForTaskQueuePoller(connection, 'default', TASK_QUEUE);

    say(`opening ${INCIDENTS} incidents, each climbing ${LEVELS} levels ${LEVEL_SECONDS}s apart ...`);
    const ids: Array<{ id: string; schedule: boolean }> = [];
    const openStarted = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < INCIDENTS) {
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
    const expectedPages = INCIDENTS * LEVELS;
    await waitFor('every page', async () => arrivals.size >= expectedPages, (LEVELS * LEVEL_SECONDS + 600) * 1000, 1000);

    // Due time of level n: the start of level n-1, as the ladder recorded it, plus the timeout.
    const lateness = { schedule: [] as number[], baseline: [] as number[] };
    const handoffs = new Set<string>();
    for (const { id, schedule } of ids) {
      const status = await client.workflow.getHandle(id).query(statusQuery);
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
      }
    }
    const quantile = (values: number[], q: number) => values[Math.min(values.length - 1, Math.floor(q * values.length))]!;
    for (const values of Object.values(lateness)) values.sort((a, b) => a - b);
    const rss = peakRssMiB(worker.pid!);

    say('  resolving every incident ...');
    await Promise.all(ids.map(({ id }) => client.workflow.getHandle(id).executeUpdate(resolveUpdate, { args: [{ by: 'bench' }] })));
    await connection.close();

    const p99 = quantile(lateness.schedule, 0.99);
    const baseline = quantile(lateness.baseline, 0.99);
    say('');
    say(`pages: ${arrivals.size} (expected ${expectedPages}); timed pages (levels 2-${LEVELS}): ${lateness.schedule.length} by schedule, ${lateness.baseline.length} direct`);
    say(`ladders whose later level paged a new on-call after a handoff: ${handoffs.size} of ${lateness.schedule.length / (LEVELS - 1)}`);
    for (const [name, values] of Object.entries(lateness)) {
      say(`lateness (${name === 'schedule' ? 'schedule targets' : 'webhook targets, baseline'}): p50 ${quantile(values, 0.5)} ms, p99 ${quantile(values, 0.99)} ms, max ${values.at(-1)} ms`);
    }
    say(`worker peak RSS ${rss.toFixed(0)} MiB`);
    say(`baseline_p99_lateness_ms=${baseline}`);
    say(`ratio=${(p99 / Math.max(baseline, 1)).toFixed(3)}`);
    say(`p99_lateness_ms=${p99}`);
    if (arrivals.size !== expectedPages) process.exitCode = 1;
  } finally {
    if (worker) {
      worker.kill('SIGTERM');
      await new Promise((resolve) => (worker!.exitCode !== null ? resolve(null) : worker!.once('exit', resolve)));
    }
    receiver.close();
    await stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:escalation failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
