import { spawn } from 'node:child_process';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Policy } from '../src/config/policy.js';
import { ErrorType } from '../src/domain/errors.js';
import { isImageDigest, parseImage, VULNERABILITY_SEVERITIES, type ScanReport, type Vulnerability, type VulnerabilitySeverity } from '../src/domain/rollout.js';

/**
 * Image scans by a configurable command that prints Trivy's JSON report
 * (`trivy image --format json` by default, the image appended). A scanner
 * that is missing, fails, or prints something else is a clear, final error:
 * a rollout never proceeds on a scan it could not read.
 */
export interface ScannerDeps {
  policy: Pick<Policy, 'rollouts'>;
}

interface TrivyReport {
  Metadata?: { RepoDigests?: string[] | null } | null;
  Results?: { Target?: string; Vulnerabilities?: { VulnerabilityID?: string; PkgName?: string; Severity?: string }[] | null }[] | null;
}

export function parseTrivyReport(image: string, text: string): ScanReport {
  let report: TrivyReport;
  try {
    report = JSON.parse(text) as TrivyReport;
  } catch {
    throw ApplicationFailure.nonRetryable(`the scanner's output for ${image} is not JSON: ${text.slice(0, 200)}`, ErrorType.InvalidInput);
  }
  if (!report || typeof report !== 'object' || !('Results' in report)) {
    throw ApplicationFailure.nonRetryable(`the scanner's output for ${image} is not a Trivy JSON report (no "Results")`, ErrorType.InvalidInput);
  }
  const vulnerabilities: Vulnerability[] = [];
  for (const result of report.Results ?? []) {
    for (const entry of result.Vulnerabilities ?? []) {
      const severity = (VULNERABILITY_SEVERITIES as readonly string[]).includes(entry.Severity ?? '') ? (entry.Severity as VulnerabilitySeverity) : 'UNKNOWN';
      vulnerabilities.push({ id: entry.VulnerabilityID ?? 'unnamed', severity, package: entry.PkgName ?? result.Target ?? '' });
    }
  }
  const digest = scannedDigest(image, report.Metadata?.RepoDigests ?? []);
  return { image, vulnerabilities, ...(digest ? { digest } : {}) };
}

/**
 * The digest of the manifest Trivy scanned: the image's own when it names one,
 * else the RepoDigests entry of its repository (Trivy may spell Docker Hub
 * names in full, so a single entry is taken as it is).
 */
function scannedDigest(image: string, repoDigests: string[]): string | undefined {
  const { repository, digest } = parseImage(image);
  if (isImageDigest(digest)) return digest;
  const entries = repoDigests.map((entry) => entry.split('@') as [string, string | undefined]).filter(([, value]) => isImageDigest(value));
  const own = entries.find(([name]) => name === repository) ?? (entries.length === 1 ? entries[0] : undefined);
  return own?.[1];
}

export function createScannerActivities(deps: ScannerDeps) {
  return {
    async scanImage(input: { image: string }): Promise<ScanReport> {
      const { command, timeout } = deps.policy.rollouts.scanner;
      const [program, ...args] = command as [string, ...string[]];
      const context = Context.current();
      const output = await new Promise<string>((resolve, reject) => {
        const child = spawn(program, [...args, input.image], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
        const heartbeat = setInterval(() => context.heartbeat(), 5000);
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.once('error', (error: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          clearInterval(heartbeat);
          reject(
            error.code === 'ENOENT'
              ? ApplicationFailure.nonRetryable(`the image scanner "${program}" is not installed (policy rollouts.scanner.command)`, ErrorType.NotFound)
              : error,
          );
        });
        child.once('close', (code, signal) => {
          clearTimeout(timer);
          clearInterval(heartbeat);
          if (code === 0) resolve(stdout);
          else reject(new Error(`${program} ${signal ? `was killed (${signal}) after ${timeout / 1000}s` : `exited with ${code}`} scanning ${input.image}: ${stderr.trim().slice(0, 1000)}`));
        });
      });
      return parseTrivyReport(input.image, output);
    },
  };
}
