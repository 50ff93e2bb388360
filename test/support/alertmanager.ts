import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitFor } from '../../scripts/stack/net.js';
import { ManagedProcess } from '../../scripts/stack/process.js';

/**
 * A real Alertmanager (Debian's prometheus-alertmanager) with a webhook
 * receiver pointing at our intake, bearer-authenticated, grouping by
 * alertname and service with short waits so tests see deliveries in seconds.
 */
export class TestAlertmanager {
  private process: ManagedProcess | undefined;
  url = '';

  constructor(
    private readonly dir: string,
    private readonly webhookUrl: string,
    private readonly token: string,
    /** The receiver's max_alerts: Alertmanager lists at most this many alerts per notification (0: all). */
    private readonly maxAlerts = 0,
  ) {}

  async start(): Promise<void> {
    const port = await freePort();
    const tokenFile = join(this.dir, 'alertmanager-token');
    writeFileSync(tokenFile, this.token, { mode: 0o600 });
    const configFile = join(this.dir, 'alertmanager.yml');
    writeFileSync(
      configFile,
      [
        'route:',
        '  receiver: ops-automation',
        '  group_by: [alertname, service]',
        '  group_wait: 1s',
        '  group_interval: 1s',
        '  repeat_interval: 1h',
        'receivers:',
        '  - name: ops-automation',
        '    webhook_configs:',
        `      - url: ${this.webhookUrl}`,
        '        send_resolved: true',
        `        max_alerts: ${this.maxAlerts}`,
        '        http_config:',
        '          authorization:',
        '            type: Bearer',
        `            credentials_file: ${tokenFile}`,
        '',
      ].join('\n'),
    );
    this.process = ManagedProcess.start(
      'alertmanager',
      'prometheus-alertmanager',
      [
        `--config.file=${configFile}`,
        `--storage.path=${join(this.dir, 'alertmanager-data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      { logFile: join(this.dir, 'alertmanager.log') },
    );
    this.url = `http://127.0.0.1:${port}`;
    await waitFor(
      'Alertmanager',
      async () => {
        if (!this.process!.running) throw new Error(`it exited:\n${this.process!.tail()}`);
        return (await fetch(`${this.url}/-/ready`)).ok;
      },
      30_000,
    );
  }

  /** Fires (or, with endsAt in the past, resolves) alerts through Alertmanager's v2 API. */
  async postAlerts(alerts: Array<{ labels: Record<string, string>; annotations?: Record<string, string>; startsAt?: string; endsAt?: string }>): Promise<void> {
    const response = await fetch(`${this.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alerts.map((alert) => ({ generatorURL: 'http://prometheus.test/graph', annotations: {}, ...alert }))),
    });
    if (!response.ok) throw new Error(`Alertmanager refused the alerts: ${response.status} ${await response.text()}`);
  }

  async stop(): Promise<void> {
    await this.process?.stop();
  }
}
