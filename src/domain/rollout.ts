/**
 * Rollout rules: image references, semantic-version bumps, and the scan gate
 * that lets a candidate image through only if it brings no vulnerability at
 * or above the blocking severity that the running image does not already have.
 */

export function rolloutFailedDedupKey(namespace: string, workload: string): string {
  return `rollout-failed-${namespace}-${workload}`;
}

export interface ImageReference {
  /** Registry and path, e.g. registry.example.com/shop/api. */
  repository: string;
  tag?: string;
  digest?: string;
}

export function parseImage(reference: string): ImageReference {
  const [withoutDigest, digest] = reference.split('@') as [string, string | undefined];
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  const hasTag = colon > slash;
  return {
    repository: hasTag ? withoutDigest.slice(0, colon) : withoutDigest,
    ...(hasTag ? { tag: withoutDigest.slice(colon + 1) } : {}),
    ...(digest ? { digest } : {}),
  };
}

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  prerelease: string;
}

/** "1.4.2", "v1.4.2", "1.4.2-alpine" (the suffix is kept as prerelease); undefined when not semver. */
export function parseSemVer(tag: string | undefined): SemVer | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/.exec(tag ?? '');
  if (!match) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]), prerelease: match[4] ?? '' };
}

export type Bump = 'major' | 'minor' | 'patch' | 'same' | 'downgrade' | 'unknown';

/** How far `to` moves from `from`: a new repository or a tag that is not semver is "unknown". */
export function classifyBump(from: string, to: string): Bump {
  const a = parseImage(from);
  const b = parseImage(to);
  if (a.repository !== b.repository) return 'unknown';
  const x = parseSemVer(a.tag);
  const y = parseSemVer(b.tag);
  if (!x || !y) return 'unknown';
  const order = [y.major - x.major, y.minor - x.minor, y.patch - x.patch].find((delta) => delta !== 0) ?? 0;
  if (order < 0) return 'downgrade';
  if (y.major !== x.major) return 'major';
  if (y.minor !== x.minor) return 'minor';
  if (y.patch !== x.patch) return 'patch';
  return 'same';
}

export const VULNERABILITY_SEVERITIES = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type VulnerabilitySeverity = (typeof VULNERABILITY_SEVERITIES)[number];

export interface Vulnerability {
  id: string;
  severity: VulnerabilitySeverity;
  package: string;
}

export interface ScanReport {
  image: string;
  vulnerabilities: Vulnerability[];
  /** The manifest digest the scanner read (Trivy's Metadata.RepoDigests), when it says. */
  digest?: string;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function isImageDigest(value: string | undefined): value is string {
  return value !== undefined && DIGEST.test(value);
}

/**
 * The image pinned to `digest`, its tag kept for people reading it
 * (`repo:1.4.2@sha256:…`): a kubelet pulls by the digest, so what runs is
 * what was scanned, whatever the tag points to later.
 */
export function pinImage(image: string, digest: string): string {
  const { repository, tag } = parseImage(image);
  return `${repository}${tag ? `:${tag}` : ''}@${digest}`;
}

/** The candidate's vulnerabilities at or above `blocking` that the current image does not have. */
export function newBlockingVulnerabilities(current: ScanReport, candidate: ScanReport, blocking: VulnerabilitySeverity): Vulnerability[] {
  const rank = (severity: VulnerabilitySeverity) => VULNERABILITY_SEVERITIES.indexOf(severity);
  const known = new Set(current.vulnerabilities.map((vulnerability) => `${vulnerability.id}|${vulnerability.package}`));
  return candidate.vulnerabilities.filter(
    (vulnerability) => rank(vulnerability.severity) >= rank(blocking) && !known.has(`${vulnerability.id}|${vulnerability.package}`),
  );
}

/** A report's vulnerabilities at or above `blocking`. */
export function blockingVulnerabilities(report: ScanReport, blocking: VulnerabilitySeverity): Vulnerability[] {
  return newBlockingVulnerabilities({ image: report.image, vulnerabilities: [] }, report, blocking);
}

/** The current image's vulnerabilities at or above `blocking` that the candidate no longer has. */
export function fixedVulnerabilities(current: ScanReport, candidate: ScanReport, blocking: VulnerabilitySeverity): Vulnerability[] {
  return newBlockingVulnerabilities(candidate, current, blocking);
}

/** A policy query with $namespace and $workload filled in. */
export function renderQuery(template: string, values: { namespace: string; workload: string }): string {
  return template.replaceAll('$namespace', values.namespace).replaceAll('$workload', values.workload);
}

export interface AnalysisFigures {
  errorRatio?: number;
  latencyP95?: number;
}

export interface AnalysisLimits {
  maxErrorRatioIncrease: number;
  maxLatencyIncrease: number;
}

const percent = (value: number) => `${(value * 100).toFixed(1)}%`;

/** Why the figures after a change are worse than the baseline allows; empty when they pass. */
export function analysisFindings(baseline: AnalysisFigures, after: AnalysisFigures, limits: AnalysisLimits): string[] {
  const findings: string[] = [];
  if (baseline.errorRatio !== undefined) {
    if (after.errorRatio === undefined) findings.push('the error ratio has no data after the change');
    else if (after.errorRatio - baseline.errorRatio > limits.maxErrorRatioIncrease) {
      findings.push(`the error ratio rose from ${percent(baseline.errorRatio)} to ${percent(after.errorRatio)} (limit +${(limits.maxErrorRatioIncrease * 100).toFixed(1)} points)`);
    }
  }
  if (baseline.latencyP95 !== undefined) {
    if (after.latencyP95 === undefined) findings.push('p95 latency has no data after the change');
    else if (after.latencyP95 > baseline.latencyP95 * (1 + limits.maxLatencyIncrease)) {
      findings.push(`p95 latency rose from ${baseline.latencyP95.toFixed(3)}s to ${after.latencyP95.toFixed(3)}s (limit +${Math.round(limits.maxLatencyIncrease * 100)}%)`);
    }
  }
  return findings;
}

/**
 * The highest semantic-version tag of the same flavour as `current` (the same
 * suffix, so 1.4.1-alpine moves to 1.5.0-alpine, never to 1.5.0), or
 * undefined when there is none.
 */
export function highestTag(current: string | undefined, tags: string[]): string | undefined {
  const flavour = parseSemVer(current)?.prerelease ?? '';
  let best: { tag: string; version: SemVer } | undefined;
  for (const tag of tags) {
    const version = parseSemVer(tag);
    if (!version || version.prerelease !== flavour) continue;
    const newer = !best || [version.major - best.version.major, version.minor - best.version.minor, version.patch - best.version.patch].find((delta) => delta !== 0)! > 0;
    if (newer) best = { tag, version };
  }
  return best?.tag;
}

/** Where an image's registry is and what the repository is called there (Docker Hub's conventions included). */
export function registryOf(repository: string): { host: string; name: string } {
  const [first, ...rest] = repository.split('/');
  const isHost = rest.length > 0 && (first!.includes('.') || first!.includes(':') || first === 'localhost');
  if (!isHost) return { host: 'registry-1.docker.io', name: rest.length === 0 ? `library/${first}` : repository };
  return { host: first!, name: rest.join('/') };
}
