#!/usr/bin/env node
// A stand-in for `trivy image --format json <image>`: prints a Trivy JSON report
// for the image from a reports file ({"<image>": [{"id", "severity", "pkg"}]}).
// An image missing from the file makes it fail the way a registry error would.
// Like Trivy scanning a registry image, the report names the manifest it read in
// Metadata.RepoDigests (a digest derived from the image's name); an entry
// written as {"vulnerabilities": [...], "repoDigest": null} leaves it out, as a
// scanner that does not say would.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const [reportsFile, image] = process.argv.slice(2);
const reports = JSON.parse(readFileSync(reportsFile, 'utf8'));
// A pinned image (repo:tag@sha256:…) is the tag's entry, as the tests write them.
const [named, pinned] = image.split('@');
const key = image in reports ? image : named;
if (!(key in reports)) {
  process.stderr.write(`FATAL image scan error: unable to find the specified image "${image}"\n`);
  process.exit(1);
}
const entry = Array.isArray(reports[key]) ? { vulnerabilities: reports[key] } : reports[key];
const repository = named.slice(0, named.lastIndexOf(':') > named.lastIndexOf('/') ? named.lastIndexOf(':') : named.length);
const repoDigest = entry.repoDigest === null ? undefined : (entry.repoDigest ?? pinned ?? imageDigest(image));
process.stdout.write(
  JSON.stringify({
    SchemaVersion: 2,
    ArtifactName: image,
    ArtifactType: 'container_image',
    Metadata: { RepoTags: [named], RepoDigests: repoDigest ? [`${repository}@${repoDigest}`] : [] },
    Results: [
      {
        Target: `${image} (debian 12.8)`,
        Class: 'os-pkgs',
        Type: 'debian',
        Vulnerabilities: entry.vulnerabilities.map((v) => ({ VulnerabilityID: v.id, PkgName: v.pkg, InstalledVersion: '1.0', Severity: v.severity })),
      },
    ],
  }),
);

/** The same rule as scannedDigest in rollouts.ts: the SHA-256 of the image's name. */
function imageDigest(image) {
  return `sha256:${createHash('sha256').update(image).digest('hex')}`;
}
