import { z } from 'zod';
import { SEVERITIES } from '../domain/severity.js';

/**
 * The policy file's `certificates` section: the TLS endpoints the daily
 * certificate check connects to, and how long before expiry it opens an
 * incident. Expired certificates, chains that do not verify and names that do
 * not match are always critical.
 */
const severity = z.enum(SEVERITIES, { error: `expected one of ${SEVERITIES.join(', ')}` });

const endpoint = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65_535).default(443),
    /** The name sent as SNI and checked against the certificate; default: host. */
    serverName: z.string().min(1).optional(),
    /** Overrides the section's warnDays for this endpoint. */
    warnDays: z.number().int().min(0).optional(),
    /** The incident's `service` label (routes its escalation); default: the server name. */
    service: z.string().min(1).optional(),
  })
  .strict();

export const certificatePolicySection = {
  certificates: z
    .object({
      /** Open an incident this many days before a certificate expires. */
      warnDays: z.number().int().min(0).default(14),
      /** The incident's severity while the certificate is still valid. */
      severity: severity.default('high'),
      /** PEM file of extra trust anchors (a private CA) beside Node's bundled roots. */
      caFile: z.string().min(1).optional(),
      /** How long one endpoint may take to complete its handshake. */
      timeoutSeconds: z.number().min(1).max(120).default(10),
      endpoints: z.array(endpoint).default([]),
    })
    .strict()
    .default({ warnDays: 14, severity: 'high', timeoutSeconds: 10, endpoints: [] }),
};

export type CertificatePolicy = z.infer<(typeof certificatePolicySection)['certificates']>;
