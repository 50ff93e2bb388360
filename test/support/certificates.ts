import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:tls';
import forge from 'node-forge';

/**
 * Certificates a test makes for itself (a private CA and leaves it signs, or
 * self-signed ones), with any validity period, and TLS servers that present
 * them on loopback.
 */
export interface Issued {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority extends Issued {
  name: string;
}

const DAY_MS = 86_400_000;

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  return { publicKey: forge.pki.publicKeyFromPem(publicKey), privateKey: forge.pki.privateKeyFromPem(privateKey), keyPem: privateKey };
}

function build(options: { commonName: string; altNames: string[]; notBefore: Date; notAfter: Date; isCa: boolean; issuer?: CertificateAuthority }): Issued {
  const keys = keyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  // Positive, 16 bytes: the first bit clear.
  cert.serialNumber = `0${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = options.notBefore;
  cert.validity.notAfter = options.notAfter;
  const subject = [{ name: 'commonName', value: options.commonName }, { name: 'organizationName', value: 'ops-automation tests' }];
  cert.setSubject(subject);
  const issuerCert = options.issuer ? forge.pki.certificateFromPem(options.issuer.certPem) : undefined;
  cert.setIssuer(issuerCert ? issuerCert.subject.attributes : subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: options.isCa, critical: true },
    { name: 'keyUsage', critical: true, ...(options.isCa ? { keyCertSign: true, cRLSign: true } : { digitalSignature: true, keyEncipherment: true }) },
    ...(options.isCa ? [] : [{ name: 'extKeyUsage', serverAuth: true }]),
    ...(options.altNames.length > 0
      ? [{ name: 'subjectAltName', altNames: options.altNames.map((name) => (/^\d+\.\d+\.\d+\.\d+$/.test(name) ? { type: 7, ip: name } : { type: 2, value: name })) }]
      : []),
    { name: 'subjectKeyIdentifier' },
  ]);
  const signingKey = options.issuer ? forge.pki.privateKeyFromPem(options.issuer.keyPem) : keys.privateKey;
  cert.sign(signingKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem };
}

export function makeCertificateAuthority(name = 'ops-automation test CA'): CertificateAuthority {
  const now = Date.now();
  return { name, ...build({ commonName: name, altNames: [], notBefore: new Date(now - DAY_MS), notAfter: new Date(now + 3650 * DAY_MS), isCa: true }) };
}

/** A server certificate for `names`, valid from `fromDays` to `untilDays` relative to now, signed by `issuer` or self-signed. */
export function issueCertificate(options: { names: string[]; fromDays?: number; untilDays: number; issuer?: CertificateAuthority }): Issued {
  const now = Date.now();
  return build({
    commonName: options.names[0]!,
    altNames: options.names,
    notBefore: new Date(now + (options.fromDays ?? -30) * DAY_MS),
    notAfter: new Date(now + options.untilDays * DAY_MS),
    isCa: false,
    ...(options.issuer ? { issuer: options.issuer } : {}),
  });
}

/** A TLS server on loopback presenting `issued`; `present` swaps the certificate (a renewal) without a restart. */
export async function startTlsServer(issued: Issued): Promise<{ port: number; present(next: Issued): void; stop(): Promise<void> }> {
  const server: Server = createServer({ key: issued.keyPem, cert: issued.certPem }, (socket) => socket.end());
  server.on('tlsClientError', () => undefined);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('TLS server has no port');
  return {
    port: address.port,
    present: (next) => server.setSecureContext({ key: next.keyPem, cert: next.certPem }),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
