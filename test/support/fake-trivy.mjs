#!/usr/bin/env node
// A stand-in for `trivy image --format json <image>`: prints a Trivy JSON report
// for the image from a reports file ({"<image>": [{"id", "severity", "pkg"}]}).
// An image missing from the file makes it fail the way a registry error would.
import { readFileSync } from 'node:fs';

const [reportsFile, image] = process.argv.slice(2);
const reports = JSON.parse(readFileSync(reportsFile, 'utf8'));
if (!(image in reports)) {
  process.stderr.write(`FATAL image scan error: unable to find the specified image "${image}"\n`);
  process.exit(1);
}
process.stdout.write(
  JSON.stringify({
    SchemaVersion: 2,
    ArtifactName: image,
    ArtifactType: 'container_image',
    Results: [
      {
        Target: `${image} (debian 12.8)`,
        Class: 'os-pkgs',
        Type: 'debian',
        Vulnerabilities: reports[image].map((v) => ({ VulnerabilityID: v.id, PkgName: v.pkg, InstalledVersion: '1.0', Severity: v.severity })),
      },
    ],
  }),
);
