import type { Severity } from './severity.js';

/**
 * What the certificate check concludes from one TLS endpoint's certificate:
 * pure rules, so the workflow decides the same way on replay.
 */
export interface CertificateInspection {
  endpoint: string;
  host: string;
  port: number;
  serverName: string;
  /** Set when no handshake took place (refused, timed out, not TLS). */
  error?: string;
  subject?: string;
  issuer?: string;
  subjectAltNames?: string[];
  notBefore?: string;
  notAfter?: string;
  serialNumber?: string;
  fingerprint256?: string;
  /** Subjects from the leaf up, as the server sent them. */
  chain?: string[];
  /** Why the chain does not verify against the trust anchors; undefined when it does. */
  chainError?: string;
  /** Why the certificate is not valid for serverName; undefined when it is. */
  hostnameError?: string;
}

export type CertificateState = 'ok' | 'expiring' | 'expired' | 'not-yet-valid' | 'untrusted' | 'wrong-host' | 'unreachable';

export interface CertificateVerdict {
  state: CertificateState;
  /** Set for states that open an incident. */
  severity?: Severity;
  daysLeft?: number;
  summary: string;
}

const DAY_MS = 86_400_000;

export function certificateVerdict(inspection: CertificateInspection, nowMs: number, rules: { warnDays: number; severity: Severity }): CertificateVerdict {
  const where = inspection.endpoint;
  if (inspection.error !== undefined || !inspection.notAfter) {
    return { state: 'unreachable', summary: `${where}: could not read its certificate: ${inspection.error ?? 'no certificate'}` };
  }
  const notAfterMs = Date.parse(inspection.notAfter);
  const daysLeft = Math.floor((notAfterMs - nowMs) / DAY_MS);
  const expires = `expires ${inspection.notAfter}`;
  if (notAfterMs <= nowMs) return { state: 'expired', severity: 'critical', daysLeft, summary: `${where}: certificate expired on ${inspection.notAfter}` };
  if (inspection.notBefore && Date.parse(inspection.notBefore) > nowMs) {
    return { state: 'not-yet-valid', severity: 'critical', daysLeft, summary: `${where}: certificate is not valid before ${inspection.notBefore}` };
  }
  if (inspection.chainError !== undefined) {
    return { state: 'untrusted', severity: 'critical', daysLeft, summary: `${where}: certificate chain does not verify (${inspection.chainError}); ${expires}` };
  }
  if (inspection.hostnameError !== undefined) {
    return { state: 'wrong-host', severity: 'critical', daysLeft, summary: `${where}: certificate is not valid for ${inspection.serverName} (${inspection.hostnameError})` };
  }
  if (notAfterMs - nowMs <= rules.warnDays * DAY_MS) {
    return { state: 'expiring', severity: rules.severity, daysLeft, summary: `${where}: certificate ${expires}, in ${daysLeft} day${daysLeft === 1 ? '' : 's'}` };
  }
  return { state: 'ok', daysLeft, summary: `${where}: valid, ${expires} (${daysLeft} days)` };
}

/** The incident of an endpoint's certificate: `certificate-<server name>-<port>`. */
export function certificateDedupKey(serverName: string, port: number): string {
  return `certificate-${serverName.toLowerCase().replace(/[^a-z0-9.-]+/g, '_')}-${port}`;
}
