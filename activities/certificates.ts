import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { checkServerIdentity, connect, rootCertificates, type DetailedPeerCertificate, type PeerCertificate } from 'node:tls';
import { ApplicationFailure } from '@temporalio/activity';
import type { Policy } from '../src/config/policy.js';
import type { CertificateInspection } from '../src/domain/certificates.js';
import { ErrorType } from '../src/domain/errors.js';
import type { Severity } from '../src/domain/severity.js';

/**
 * TLS endpoints' certificates, read the way a client sees them: a handshake
 * with SNI that accepts whatever the server sends, so an expired or untrusted
 * certificate is read and reported rather than refused, then checked against
 * the trust anchors and the server name separately.
 */
export interface CertificateDeps {
  policy: Pick<Policy, 'certificates'>;
}

export interface CertificateEndpoint {
  endpoint: string;
  host: string;
  port: number;
  serverName: string;
  service: string;
  warnDays: number;
  severity: Severity;
}

export interface CertificateCheckSettings {
  endpoints: CertificateEndpoint[];
  timeoutMs: number;
}

function distinguishedName(name: PeerCertificate['subject'] | undefined): string {
  if (!name) return '';
  return Object.entries(name)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : value}`)
    .join(', ');
}

/** Subjects from the leaf up; Node links a self-signed root to itself, so stop where it repeats. */
function chainOf(leaf: DetailedPeerCertificate): string[] {
  const chain: string[] = [];
  const seen = new Set<string>();
  for (let cert: DetailedPeerCertificate | undefined = leaf; cert && cert.fingerprint256 && !seen.has(cert.fingerprint256); cert = cert.issuerCertificate) {
    seen.add(cert.fingerprint256);
    chain.push(distinguishedName(cert.subject));
  }
  return chain;
}

async function trustAnchors(caFile: string | undefined): Promise<string[] | undefined> {
  if (!caFile) return undefined;
  try {
    return [...rootCertificates, await readFile(caFile, 'utf8')];
  } catch (error) {
    throw ApplicationFailure.nonRetryable(`certificates.caFile ${caFile}: ${(error as Error).message}`, ErrorType.InvalidInput);
  }
}

export function createCertificateActivities(deps: CertificateDeps) {
  const policy = deps.policy.certificates;
  return {
    async certificateCheckSettings(): Promise<CertificateCheckSettings> {
      return {
        timeoutMs: policy.timeoutSeconds * 1000,
        endpoints: policy.endpoints.map((endpoint) => {
          const serverName = endpoint.serverName ?? endpoint.host;
          return {
            endpoint: `${endpoint.host}:${endpoint.port}${serverName === endpoint.host ? '' : ` (${serverName})`}`,
            host: endpoint.host,
            port: endpoint.port,
            serverName,
            service: endpoint.service ?? serverName,
            warnDays: endpoint.warnDays ?? policy.warnDays,
            severity: policy.severity,
          };
        }),
      };
    },

    /** Reads one endpoint's certificate; a failed handshake comes back as `error`, not as a failure. */
    async inspectCertificate(input: { endpoint: string; host: string; port: number; serverName: string; timeoutMs: number }): Promise<CertificateInspection> {
      const base = { endpoint: input.endpoint, host: input.host, port: input.port, serverName: input.serverName };
      const ca = await trustAnchors(policy.caFile);
      return new Promise<CertificateInspection>((resolve) => {
        const socket = connect({
          host: input.host,
          port: input.port,
          // SNI carries host names only (RFC 6066).
          ...(isIP(input.serverName) ? {} : { servername: input.serverName }),
          ...(ca ? { ca } : {}),
          rejectUnauthorized: false,
          checkServerIdentity: () => undefined,
        });
        const finish = (result: CertificateInspection) => {
          socket.destroy();
          resolve(result);
        };
        socket.setTimeout(input.timeoutMs, () => finish({ ...base, error: `no TLS handshake within ${input.timeoutMs / 1000}s` }));
        socket.once('error', (error) => finish({ ...base, error: error.message }));
        socket.once('secureConnect', () => {
          const leaf = socket.getPeerCertificate(true);
          if (!leaf || !leaf.raw) return finish({ ...base, error: 'the server sent no certificate' });
          const hostnameError = checkServerIdentity(input.serverName, leaf);
          finish({
            ...base,
            subject: distinguishedName(leaf.subject),
            issuer: distinguishedName(leaf.issuer),
            subjectAltNames: leaf.subjectaltname ? leaf.subjectaltname.split(', ') : [],
            notBefore: new Date(leaf.valid_from).toISOString(),
            notAfter: new Date(leaf.valid_to).toISOString(),
            serialNumber: leaf.serialNumber,
            fingerprint256: leaf.fingerprint256,
            chain: chainOf(leaf),
            ...(socket.authorized ? {} : { chainError: String(socket.authorizationError ?? 'not trusted') }),
            ...(hostnameError ? { hostnameError: hostnameError.message } : {}),
          });
        });
      });
    },
  };
}
