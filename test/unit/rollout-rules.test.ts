import { describe, expect, it } from 'vitest';
import { quietSdkLogger } from '../support/quiet-log.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { manifestDigest } from '../../activities/registry.js';
import { createScannerActivities, parseTrivyReport } from '../../activities/scanner.js';
import { FakeRegistry } from '../support/fake-registry.js';
import { parsePolicy } from '../../src/config/policy.js';
import { FAKE_TRIVY, scannedDigest } from '../support/rollouts.js';
import { analysisFindings, classifyBump, highestTag, newBlockingVulnerabilities, parseImage, pinImage, registryOf, renderQuery } from '../../src/domain/rollout.js';

describe('rollout rules', () => {
  it('reads image references with registries, ports, tags and digests', () => {
    expect(parseImage('registry.example.com:5000/shop/api:1.4.2')).toEqual({ repository: 'registry.example.com:5000/shop/api', tag: '1.4.2' });
    expect(parseImage('nginx')).toEqual({ repository: 'nginx' });
    expect(parseImage('nginx:1.27@sha256:abc')).toEqual({ repository: 'nginx', tag: '1.27', digest: 'sha256:abc' });
  });

  it('classifies bumps by semantic version, and anything else as unknown', () => {
    expect(classifyBump('api:1.4.1', 'api:1.4.2')).toBe('patch');
    expect(classifyBump('api:v1.4.1', 'api:v1.5.0')).toBe('minor');
    expect(classifyBump('api:1.4.1', 'api:2.0.0')).toBe('major');
    expect(classifyBump('api:1.4.1', 'api:1.4.1')).toBe('same');
    expect(classifyBump('api:1.4.1', 'api:1.3.9')).toBe('downgrade');
    expect(classifyBump('api:1.4.1', 'api:latest')).toBe('unknown');
    expect(classifyBump('api:1.4.1', 'other:1.4.2')).toBe('unknown');
  });

  it('blocks only vulnerabilities at or above the threshold that the running image does not have', () => {
    const current = { image: 'a', vulnerabilities: [{ id: 'CVE-1', severity: 'CRITICAL' as const, package: 'openssl' }] };
    const candidate = {
      image: 'b',
      vulnerabilities: [
        { id: 'CVE-1', severity: 'CRITICAL' as const, package: 'openssl' },
        { id: 'CVE-2', severity: 'HIGH' as const, package: 'curl' },
        { id: 'CVE-3', severity: 'MEDIUM' as const, package: 'zlib' },
        { id: 'CVE-1', severity: 'CRITICAL' as const, package: 'libssl3' },
      ],
    };
    expect(newBlockingVulnerabilities(current, candidate, 'HIGH').map((v) => `${v.id}/${v.package}`)).toEqual(['CVE-2/curl', 'CVE-1/libssl3']);
    expect(newBlockingVulnerabilities(current, candidate, 'CRITICAL').map((v) => `${v.id}/${v.package}`)).toEqual(['CVE-1/libssl3']);
  });

  it("reads Trivy's JSON report, and refuses output that is not one", () => {
    const report = parseTrivyReport('api:1', JSON.stringify({ Results: [{ Target: 'api:1 (debian)', Vulnerabilities: [{ VulnerabilityID: 'CVE-9', PkgName: 'bash', Severity: 'HIGH' }] }, { Target: 'app/package-lock.json', Vulnerabilities: null }] }));
    expect(report).toEqual({ image: 'api:1', vulnerabilities: [{ id: 'CVE-9', severity: 'HIGH', package: 'bash' }] });
    expect(() => parseTrivyReport('api:1', 'Error: no such image')).toThrow("the scanner's output for api:1 is not JSON: Error: no such image");
    expect(() => parseTrivyReport('api:1', '{"x":1}')).toThrow('is not a Trivy JSON report (no "Results")');
  });

  it('takes the digest Trivy scanned from its RepoDigests, so the rollout can pin what was scanned', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const other = `sha256:${'b'.repeat(64)}`;
    const scanned = (image: string, repoDigests: string[]) => parseTrivyReport(image, JSON.stringify({ Metadata: { RepoDigests: repoDigests }, Results: [] })).digest;
    expect(scanned('registry.test/shop/api:1.4.2', [`registry.test/mirror/api@${other}`, `registry.test/shop/api@${digest}`])).toBe(digest);
    // Trivy spells Docker Hub names in full: a single entry is the image's.
    expect(scanned('nginx:1.27', [`index.docker.io/library/nginx@${digest}`])).toBe(digest);
    // A pinned reference is its own digest; no entry, or one that is not a digest, says nothing.
    expect(scanned(`nginx:1.27@${other}`, [`nginx@${digest}`])).toBe(other);
    expect(scanned('nginx:1.27', [])).toBeUndefined();
    expect(scanned('nginx:1.27', ['nginx@sha256:short'])).toBeUndefined();
    expect(pinImage('registry.test:5000/shop/api:1.4.2', digest)).toBe(`registry.test:5000/shop/api:1.4.2@${digest}`);
    expect(pinImage(`api:1.4.2@${other}`, digest)).toBe(`api:1.4.2@${digest}`);
  });

  it("resolves a tag to its registry's digest, and follows a retag", async () => {
    const registry = new FakeRegistry();
    await registry.start();
    try {
      registry.setTags('shop/api', ['1.4.2']);
      const image = `${registry.host}/shop/api:1.4.2`;
      const first = await manifestDigest(image);
      expect(first).toBe(registry.digestOf('shop/api', '1.4.2'));
      // HEAD, refused until the challenge's token is shown; the manifest itself is not downloaded.
      expect(registry.requests.filter((path) => path.includes('/manifests/'))).toEqual(['/v2/shop/api/manifests/1.4.2', '/v2/shop/api/manifests/1.4.2']);
      registry.retag('shop/api', '1.4.2');
      expect(await manifestDigest(image)).not.toBe(first);
      await expect(manifestDigest(`${registry.host}/shop/api:9.9.9`)).rejects.toThrow(`the registry ${registry.host} has no shop/api:9.9.9`);
    } finally {
      await registry.stop();
    }
  });

  it('judges figures after a change against the baseline: +5 points of errors, +20% of p95 by default', () => {
    const limits = { maxErrorRatioIncrease: 0.05, maxLatencyIncrease: 0.2 };
    const baseline = { errorRatio: 0.01, latencyP95: 0.2 };
    expect(analysisFindings(baseline, { errorRatio: 0.059, latencyP95: 0.239 }, limits)).toEqual([]);
    expect(analysisFindings(baseline, { errorRatio: 0.07, latencyP95: 0.25 }, limits)).toEqual([
      'the error ratio rose from 1.0% to 7.0% (limit +5.0 points)',
      'p95 latency rose from 0.200s to 0.250s (limit +20%)',
    ]);
    expect(analysisFindings(baseline, {}, limits)).toEqual(['the error ratio has no data after the change', 'p95 latency has no data after the change']);
    expect(analysisFindings({}, {}, limits)).toEqual([]);
    expect(renderQuery('sum(rate(x{namespace="$namespace",deployment="$workload"}[5m]))', { namespace: 'shop', workload: 'api' })).toBe(
      'sum(rate(x{namespace="shop",deployment="api"}[5m]))',
    );
  });

  it('picks the highest semver tag of the same flavour, and finds the registry of an image', () => {
    const tags = ['1.9.0', '1.10.0', '1.10.1-alpine', '2.0.0-rc.1', 'latest', 'v1.11.0'];
    expect(highestTag('1.9.0', tags)).toBe('v1.11.0');
    expect(highestTag('1.9.0-alpine', tags)).toBe('1.10.1-alpine');
    expect(highestTag('1.0.0-slim', tags)).toBeUndefined();
    expect(registryOf('nginx')).toEqual({ host: 'registry-1.docker.io', name: 'library/nginx' });
    expect(registryOf('bitnami/redis')).toEqual({ host: 'registry-1.docker.io', name: 'bitnami/redis' });
    expect(registryOf('ghcr.io/acme/api')).toEqual({ host: 'ghcr.io', name: 'acme/api' });
    expect(registryOf('localhost:5000/api')).toEqual({ host: 'localhost:5000', name: 'api' });
  });
});

describe('the image scanner', () => {
  const environment = new MockActivityEnvironment(undefined, { logger: quietSdkLogger });
  const scanner = (command: string[]) => createScannerActivities({ policy: parsePolicy({ rollouts: { scanner: { command } } }, 'test') });

  it('says clearly when the scanner is not installed, and when it fails', async () => {
    await expect(environment.run(scanner(['/nonexistent/trivy', 'image']).scanImage, { image: 'api:1' })).rejects.toThrow(
      'the image scanner "/nonexistent/trivy" is not installed (policy rollouts.scanner.command)',
    );
    const reports = join(mkdtempSync(join(tmpdir(), 'ops-scan-')), 'reports.json');
    writeFileSync(reports, JSON.stringify({ 'api:1': [{ id: 'CVE-1', severity: 'HIGH', pkg: 'bash' }] }));
    const fake = scanner([process.execPath, FAKE_TRIVY, reports]);
    expect(await environment.run(fake.scanImage, { image: 'api:1' })).toEqual({ image: 'api:1', vulnerabilities: [{ id: 'CVE-1', severity: 'HIGH', package: 'bash' }], digest: scannedDigest('api:1') });
    await expect(environment.run(fake.scanImage, { image: 'api:2' })).rejects.toThrow(/exited with 1 scanning api:2: FATAL image scan error: unable to find the specified image "api:2"/);
  });
});
