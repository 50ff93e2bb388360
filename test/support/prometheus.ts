import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { freePort, waitFor } from '../../scripts/stack/net.js';
import { ManagedProcess } from '../../scripts/stack/process.js';
import { closeServer, listenOnLoopback } from './loopback.js';

/**
 * A real Prometheus (Debian's package) scraping, every second, a small
 * exporter whose series the test sets: the figures a rollout analysis or a
 * health check reads are the ones the test chose.
 */
export class TestExporter {
  private server: Server | undefined;
  private readonly series = new Map<string, { name: string; labels: Record<string, string>; value: number | (() => number) }>();
  port = 0;

  /** A series' value, or a function read at every scrape (a value that grows with time). */
  set(name: string, labels: Record<string, string>, value: number | (() => number)): void {
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    this.series.set(key, { name, labels, value });
  }

  async start(): Promise<void> {
    this.server = createServer((_request, response) => {
      const lines = [...this.series.values()].map(
        ({ name, labels, value }) => `${name}{${Object.entries(labels).map(([key, label]) => `${key}="${label}"`).join(',')}} ${typeof value === 'function' ? value() : value}`,
      );
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      response.end(`${lines.join('\n')}\n`);
    });
    this.port = await listenOnLoopback(this.server);
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }
}

/** Starts Debian's prometheus on a free loopback port with `config`, and waits until `ready(url)` holds. */
async function launchPrometheus(dir: string, config: string, extraArgs: string[], ready: (url: string) => Promise<boolean>): Promise<{ process: ManagedProcess; url: string }> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, config);
  const server = ManagedProcess.start(
    'prometheus',
    'prometheus',
    [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', ...extraArgs],
    { logFile: join(dir, 'prometheus.log') },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    `Prometheus on ${url}`,
    async () => {
      if (!server.running) throw new Error(`it exited; last log lines:\n${server.tail()}`);
      return ready(url);
    },
    60_000,
  );
  return { process: server, url };
}

export class TestPrometheus {
  private process: ManagedProcess | undefined;
  url = '';

  constructor(
    private readonly dir: string,
    private readonly exporterPort: number,
  ) {}

  async start(): Promise<void> {
    const config = ['global:', '  scrape_interval: 1s', '  evaluation_interval: 1s', 'scrape_configs:', '  - job_name: test-exporter', '    static_configs:', `      - targets: ['127.0.0.1:${this.exporterPort}']`, ''].join('\n');
    ({ process: this.process, url: this.url } = await launchPrometheus(this.dir, config, [], async (url) => {
      const response = await fetch(`${url}/api/v1/targets`).catch(() => undefined);
      if (!response?.ok) return false;
      const body = (await response.json()) as { data: { activeTargets: { health: string }[] } };
      return body.data.activeTargets.some((target) => target.health === 'up');
    }));
  }

  async stop(): Promise<void> {
    await this.process?.stop();
  }
}

/**
 * A real Prometheus serving only data written beforehand (blocks made by
 * `promtool tsdb create-blocks-from openmetrics`), scraping nothing: every
 * figure a query returns is known in advance.
 */
export class HistoricalPrometheus {
  private process: ManagedProcess | undefined;
  url = '';

  constructor(private readonly dir: string) {}

  /** Turns an OpenMetrics file into TSDB blocks under this Prometheus's data directory. */
  importOpenMetrics(file: string): void {
    mkdirSync(join(this.dir, 'data'), { recursive: true });
    const result = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', file, join(this.dir, 'data')], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`promtool could not import ${file}: ${result.stderr || result.error?.message}`);
  }

  async start(): Promise<void> {
    ({ process: this.process, url: this.url } = await launchPrometheus(this.dir, 'global:\n  evaluation_interval: 1m\nscrape_configs: []\n', ['--storage.tsdb.retention.time=90d'], async (url) => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok === true));
  }

  async stop(): Promise<void> {
    await this.process?.stop();
  }
}
