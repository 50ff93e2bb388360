import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { parsePolicy } from '../../src/config/policy.js';
import { statusQuery } from '../../workflows/incident.js';
import type { CertificateCheckResult } from '../../workflows/certificate-check.js';
import { issueCertificate, makeCertificateAuthority, startTlsServer } from '../support/certificates.js';
import { statusWhen } from '../support/incidents.js';
import { connectStack, startBackgroundWorker, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * certificateCheckWorkflow against TLS servers this test starts on loopback,
 * with certificates it makes: a private CA's valid one, one expiring in 3
 * days, an expired one, one for another name, and a self-signed one.
 */
describe('certificate check', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  const taskQueue = uniqueTaskQueue('certificates');
  const unique = taskQueue.slice(-6);
  const ca = makeCertificateAuthority();
  const name = (what: string) => `${what}-${unique}.test`;
  const servers: Record<string, Awaited<ReturnType<typeof startTlsServer>>> = {};
  let closedPort = 0;

  beforeAll(async () => {
    clients = await connectStack();
    const issued = {
      valid: issueCertificate({ names: [name('valid')], untilDays: 90, issuer: ca }),
      expiring: issueCertificate({ names: [name('expiring')], untilDays: 3, issuer: ca }),
      expired: issueCertificate({ names: [name('expired')], fromDays: -90, untilDays: -2, issuer: ca }),
      'wrong-host': issueCertificate({ names: ['somebody-else.test'], untilDays: 90, issuer: ca }),
      'self-signed': issueCertificate({ names: [name('self-signed')], untilDays: 90 }),
    };
    for (const [key, value] of Object.entries(issued)) servers[key] = await startTlsServer(value);
    const closed = await startTlsServer(issued.valid);
    closedPort = closed.port;
    await closed.stop();
    const caFile = join(mkdtempSync(join(tmpdir(), 'ops-ca-')), 'ca.pem');
    writeFileSync(caFile, ca.certPem);
    const policy = parsePolicy(
      {
        certificates: {
          warnDays: 14,
          severity: 'high',
          caFile,
          timeoutSeconds: 5,
          endpoints: [
            ...Object.keys(issued).map((key) => ({ host: '127.0.0.1', port: servers[key]!.port, serverName: name(key), service: `tls-${key}-${unique}` })),
            { host: '127.0.0.1', port: closedPort, serverName: name('gone') },
          ],
        },
      },
      'test',
    );
    worker = await startBackgroundWorker(taskQueue, createActivities(clients.activityDeps({ policy, taskQueue })));
  });

  afterAll(async () => {
    await worker.stop();
    await Promise.all(Object.values(servers).map((server) => server.stop()));
    await clients.close();
  });

  const check = (id: string, input: Record<string, unknown> = {}) =>
    clients.client.workflow.execute<(input: Record<string, unknown>) => Promise<CertificateCheckResult>>('certificateCheckWorkflow', { taskQueue, workflowId: `certificate-check-${unique}-${id}`, args: [input] });
  const endpoint = (key: string) => `127.0.0.1:${servers[key]!.port} (${name(key)})`;
  const incidentOf = (key: string) => `incident-certificate-${name(key)}-${servers[key]!.port}`;

  it('reads each certificate, tells the problems apart, and raises one incident for each with its severity', async () => {
    const result = await check('first');
    const byEndpoint = Object.fromEntries(result.findings.map((finding) => [finding.endpoint, finding]));
    expect(byEndpoint[endpoint('valid')]).toMatchObject({ state: 'ok', daysLeft: 89, subject: `CN=${name('valid')}, O=ops-automation tests`, issuer: 'CN=ops-automation test CA, O=ops-automation tests' });
    expect(byEndpoint[endpoint('valid')]!.severity).toBeUndefined();
    expect(byEndpoint[endpoint('expiring')]).toMatchObject({ state: 'expiring', severity: 'high', daysLeft: 2, summary: expect.stringMatching(/certificate expires \S+, in 2 days$/) });
    expect(byEndpoint[endpoint('expired')]).toMatchObject({ state: 'expired', severity: 'critical', summary: expect.stringContaining('certificate expired on') });
    expect(byEndpoint[endpoint('wrong-host')]).toMatchObject({ state: 'wrong-host', severity: 'critical', summary: expect.stringContaining(`not valid for ${name('wrong-host')}`) });
    expect(byEndpoint[endpoint('self-signed')]).toMatchObject({ state: 'untrusted', severity: 'critical', summary: expect.stringMatching(/chain does not verify \(DEPTH_ZERO_SELF_SIGNED_CERT\)/) });
    expect(byEndpoint[`127.0.0.1:${closedPort} (${name('gone')})`]).toMatchObject({ state: 'unreachable', summary: expect.stringContaining('ECONNREFUSED') });

    expect(result.incidents.sort()).toEqual(['expiring', 'expired', 'wrong-host', 'self-signed'].map(incidentOf).sort());
    const expiring = await statusWhen(clients.client.workflow.getHandle(incidentOf('expiring')), (status) => status.alerts.length === 1);
    expect(expiring).toMatchObject({ severity: 'high', state: 'triggered', service: `tls-expiring-${unique}` });
    expect(expiring.alerts[0]).toMatchObject({ status: 'firing', labels: { alertname: 'CertificateExpiringSoon', server_name: name('expiring') } });
    const expired = await statusWhen(clients.client.workflow.getHandle(incidentOf('expired')), (status) => status.alerts.length === 1);
    expect(expired).toMatchObject({ severity: 'critical', title: expect.stringContaining('expired') });
  });

  it('resolves the incident once a renewed certificate is seen, and a dry run touches no incident', async () => {
    servers.expiring!.present(issueCertificate({ names: [name('expiring')], untilDays: 365, issuer: ca }));
    const dry = await check('dry', { dryRun: true });
    expect(dry.incidents).toEqual([]);
    expect(dry.findings.find((finding) => finding.endpoint === endpoint('expiring'))).toMatchObject({ state: 'ok', daysLeft: 364 });
    const firing = await clients.client.workflow.getHandle(incidentOf('expiring')).query(statusQuery);
    expect(firing.alerts[0]!.status).toBe('firing');

    const renewed = await check('renewed');
    expect(renewed.incidents).not.toContain(incidentOf('expiring'));
    const resolved = await statusWhen(clients.client.workflow.getHandle(incidentOf('expiring')), (status) => status.alerts.every((alert) => alert.status === 'resolved'));
    expect(resolved.alerts[0]!.annotations.summary).toMatch(/renewed certificate seen, valid until/);
    // The others still fire.
    const expired = await clients.client.workflow.getHandle(incidentOf('expired')).query(statusQuery);
    expect(expired.alerts[0]!.status).toBe('firing');
    for (const key of ['expiring', 'expired', 'wrong-host', 'self-signed']) await clients.client.workflow.getHandle(incidentOf(key)).executeUpdate('resolve', { args: [{ by: 'test' }] }).catch(() => undefined);
  });
});
