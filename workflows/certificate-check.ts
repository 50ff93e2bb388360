import { proxyActivities, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { createCertificateActivities } from '../activities/certificates.js';
import { certificateDedupKey, certificateVerdict, type CertificateState } from '../src/domain/certificates.js';
import type { Severity } from '../src/domain/severity.js';
import { OpsKind, OpsStatus } from '../src/domain/search-attributes.js';
import { quickApiCall } from './activity-profiles.js';
import { ownIncident } from './own-incident.js';

/**
 * certificateCheckWorkflow (daily, from its schedule): connects to every TLS
 * endpoint in the policy's `certificates.endpoints`, reads its certificate
 * and chain, and opens the incident `certificate-<server name>-<port>` when it
 * expires within `warnDays` (the policy's severity), has expired, does not
 * verify or does not match the name (critical). A renewed certificate seen
 * on a later run resolves it. An endpoint that cannot be reached is reported,
 * not raised: the certificate check is not an uptime check.
 *   temporal workflow start --type certificateCheckWorkflow --task-queue ops --input '{"dryRun": true}'
 */
export interface CertificateCheckInput {
  /** Check and report; open and resolve no incident. */
  dryRun?: boolean;
  /** Only these endpoints (`host:port`); default all. */
  only?: string[];
  requestedBy?: string;
}

export interface CertificateFinding {
  endpoint: string;
  state: CertificateState;
  severity?: Severity;
  daysLeft?: number;
  summary: string;
  subject?: string;
  issuer?: string;
  notAfter?: string;
  fingerprint256?: string;
  /** The incident raised for it (or, when `resolved`, the one this run resolved). */
  incident?: string;
  resolved?: boolean;
}

export interface CertificateCheckResult {
  dryRun: boolean;
  findings: CertificateFinding[];
  incidents: string[];
}

const certificates = proxyActivities<ReturnType<typeof createCertificateActivities>>(quickApiCall);

const ALERT_NAMES: Record<CertificateState, string> = {
  ok: 'CertificateValid',
  expiring: 'CertificateExpiringSoon',
  expired: 'CertificateExpired',
  'not-yet-valid': 'CertificateNotYetValid',
  untrusted: 'CertificateUntrusted',
  'wrong-host': 'CertificateNameMismatch',
  unreachable: 'CertificateUnreachable',
};

export async function certificateCheckWorkflow(input: CertificateCheckInput = {}): Promise<CertificateCheckResult> {
  const dryRun = input.dryRun === true;
  upsertSearchAttributes([
    { key: OpsKind, value: 'certificate-check' },
    { key: OpsStatus, value: 'running' },
  ]);
  const settings = await certificates.certificateCheckSettings();
  const endpoints = input.only ? settings.endpoints.filter((endpoint) => input.only!.includes(`${endpoint.host}:${endpoint.port}`)) : settings.endpoints;
  const findings: CertificateFinding[] = [];
  const incidents: string[] = [];

  for (const endpoint of endpoints) {
    const inspection = await certificates.inspectCertificate({ endpoint: endpoint.endpoint, host: endpoint.host, port: endpoint.port, serverName: endpoint.serverName, timeoutMs: settings.timeoutMs });
    const verdict = certificateVerdict(inspection, Date.now(), { warnDays: endpoint.warnDays, severity: endpoint.severity });
    const finding: CertificateFinding = {
      endpoint: endpoint.endpoint,
      state: verdict.state,
      summary: verdict.summary,
      ...(verdict.severity ? { severity: verdict.severity } : {}),
      ...(verdict.daysLeft !== undefined ? { daysLeft: verdict.daysLeft } : {}),
      ...(inspection.subject !== undefined ? { subject: inspection.subject, issuer: inspection.issuer, notAfter: inspection.notAfter, fingerprint256: inspection.fingerprint256 } : {}),
    };
    findings.push(finding);
    if (dryRun || verdict.state === 'unreachable') continue;
    const incident = ownIncident({
      dedupKey: certificateDedupKey(endpoint.serverName, endpoint.port),
      labels: {
        alertname: ALERT_NAMES[verdict.state],
        service: endpoint.service,
        endpoint: `${endpoint.host}:${endpoint.port}`,
        server_name: endpoint.serverName,
        severity: verdict.severity ?? endpoint.severity,
      },
    });
    if (verdict.severity) {
      finding.incident = await incident.raise({
        summary: verdict.summary,
        description: [inspection.subject && `subject ${inspection.subject}`, inspection.issuer && `issuer ${inspection.issuer}`, inspection.fingerprint256 && `SHA-256 ${inspection.fingerprint256}`].filter(Boolean).join('; '),
      });
      incidents.push(finding.incident);
    } else {
      await incident.clear(`${endpoint.endpoint}: renewed certificate seen, valid until ${inspection.notAfter}`);
    }
  }

  const problems = findings.filter((finding) => finding.severity !== undefined).length;
  upsertSearchAttributes([{ key: OpsStatus, value: problems > 0 ? 'failed' : 'succeeded' }]);
  upsertMemo({ summary: `${dryRun ? 'Dry run: ' : ''}${findings.length} certificates checked, ${problems} need attention` });
  return { dryRun, findings, incidents };
}
