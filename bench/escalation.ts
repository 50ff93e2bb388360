import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { alertsSignal, incidentWorkflow, resolveUpdate, statusQuery } from '../workflows/incident.js';
import { ephemeralStackEnv, startEphemeralStack } from '../scripts/stack/ephemeral-stack.js';
import { waitFor } from '../scripts/stack/net.js';
import { waitForTaskQueuePoller } from '../scripts/stack/temporal.js';
import { peakRssMiB } from './process-memory.js';
import { REPO_ROOT } from '../scripts/stack/paths.js';

/**
 * Escalation timing under load (npm run bench:escalation): 500 open incidents
 * whose ladders fire a level every 10 seconds, on one worker process. Each
 * page goes to a local webhook receiver that notes when it arrived; a page's
 * lateness is its arrival minus its due time (the previous level's start plus
 * the 10-second timeout). Prints p50/p99/max lateness, the worker's peak RSS,
 * and a last line `p99_lateness_ms=<n>`.
 */

const INCIDENTS = Number(process.env.BENCH_INCIDENTS ?? 500);
const LEVELS = Number(process.env.BENCH_LEVELS ?? 4);
const LEVEL_SECONDS = 10;
const TASK_QUEUE = 'bench-escalation';
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
        'escalation:',
        '  defaultPolicy: bench',
        '  policies:',
        '    - name: bench',
        '      levels:',
        ...Array.from({ length: LEVELS }, () => [`        - timeout: ${LEVEL_SECONDS}s`, `          targets: [{ type: webhook, url: "${hookUrl}" }]`]).flat(),
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
    const ids: string[] = [];
    const openStarted = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < INCIDENTS) {
          const index = next++;
          const dedupKey = `bench-esc-${index}`;
          await client.workflow.signalWithStart(incidentWorkflow, {
            workflowId: `incident-${dedupKey}`,
            taskQueue: TASK_QUEUE,
            args: [{ dedupKey, source: 'alertmanager' }],
            signal: alertsSignal,
            signalArgs: [
              {
                source: 'alertmanager',
                receivedAt: new Date().toISOString(),
                alerts: [{ fingerprint: `f${index}`, status: 'firing', labels: { alertname: 'Bench', service: `svc-${index % 50}`, severity: 'critical' }, annotations: {}, startsAt: '2026-11-23T10:00:00Z' }],
              },
            ],
          });
          ids.push(`incident-${dedupKey}`);
        }
      }),
    );
    say(`  opened in ${((Date.now() - openStarted) / 1000).toFixed(1)}s; waiting for every ladder to reach level ${LEVELS} ...`);
    const expectedPages = INCIDENTS * LEVELS;
    await waitFor('every page', async () => arrivals.size >= expectedPages, (LEVELS * LEVEL_SECONDS + 600) * 1000, 1000);

    // Due time of level n: the start of level n-1, as the ladder recorded it, plus the timeout.
    const lateness: number[] = [];
    for (const id of ids) {
      const status = await client.workflow.getHandle(id).query(statusQuery);
      const pages = status.escalation?.pages ?? [];
      for (let level = 2; level <= LEVELS; level += 1) {
        const previous = pages.find((page) => page.level === level - 1);
        const key = `${status.incidentId}:esc1:c0:l${level}:webhook:${hookUrl}`;
        const arrived = arrivals.get(key);
        if (!previous || arrived === undefined) throw new Error(`${id}: level ${level} page missing`);
        lateness.push(arrived - (Date.parse(previous.at) + LEVEL_SECONDS * 1000));
      }
    }
    lateness.sort((a, b) => a - b);
    const at = (q: number) => lateness[Math.min(lateness.length - 1, Math.floor(q * lateness.length))]!;
    const rss = peakRssMiB(worker.pid!);

    say('  resolving every incident ...');
    await Promise.all(ids.map((id) => client.workflow.getHandle(id).executeUpdate(resolveUpdate, { args: [{ by: 'bench' }] })));
    await connection.close();

    say('');
    say(`pages: ${arrivals.size} (expected ${expectedPages}); timed pages (levels 2-${LEVELS}): ${lateness.length}`);
    say(`lateness: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${lateness.at(-1)} ms`);
    say(`worker peak RSS ${rss.toFixed(0)} MiB`);
    say(`p99_lateness_ms=${at(0.99)}`);
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
