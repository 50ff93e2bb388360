import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BIN_DIR } from './paths.js';
import { go, goInstallInto, moveIntoPlace, SRC_DIR } from './kubernetes-tools.js';
import { isExecutable } from './tools.js';

/**
 * What the chart test needs beside the embedded Kubernetes, from the Go module
 * proxy into .ops/bin/<name>-<version>/:
 * - helm (helm.sh/helm/v4, plain `go install`; about four minutes cold on 2 cores);
 * - KEDA's ScaledObject CRD, taken from the kedacore/keda module's own
 *   config/crd/bases (nothing is built), so the chart's ScaledObject meets the
 *   schema a real KEDA installs.
 */
export const HELM_VERSION = 'v4.3.2';
// v2.21.x needs Go 1.27; the Temporal scaler and the CRD are the same in v2.20.
export const KEDA_VERSION = 'v2.20.2';

const HELM_DIR = join(BIN_DIR, `helm-${HELM_VERSION}`);
const KEDA_DIR = join(BIN_DIR, `keda-${KEDA_VERSION}`);

export interface HelmTools {
  helm: string;
  /** keda.sh_scaledobjects.yaml of KEDA_VERSION. */
  scaledObjectCrd: string;
}

async function buildHelm(say: (line: string) => void): Promise<void> {
  // Without the stamp `helm version` says v4.0+unreleased.
  await goInstallInto(HELM_DIR, `helm.sh/helm/v4/cmd/helm@${HELM_VERSION}`, { ldflags: `-X helm.sh/helm/v4/internal/version.version=${HELM_VERSION}`, say, what: 'build helm' });
}

async function fetchKedaCrd(say: (line: string) => void): Promise<void> {
  mkdirSync(SRC_DIR, { recursive: true });
  // -json reports the module's directory even where its go.mod wants a newer Go than ours.
  const download = JSON.parse(await go(['mod', 'download', '-json', `github.com/kedacore/keda/v2@${KEDA_VERSION}`], { cwd: SRC_DIR, env: { GOFLAGS: '' }, say, what: 'download KEDA' })) as { Dir?: string };
  const crd = download.Dir ? join(download.Dir, 'config', 'crd', 'bases', 'keda.sh_scaledobjects.yaml') : '';
  if (!crd || !existsSync(crd)) throw new Error(`KEDA ${KEDA_VERSION}'s ScaledObject CRD is not in ${download.Dir ?? 'the module cache'}`);
  const staged = join(SRC_DIR, `keda-${KEDA_VERSION}-crd`);
  mkdirSync(staged, { recursive: true });
  copyFileSync(crd, join(staged, 'keda.sh_scaledobjects.yaml'));
  moveIntoPlace(staged, KEDA_DIR);
}

/** helm and KEDA's CRD, fetched or built once. */
export async function ensureHelmTools(say: (line: string) => void = (line) => console.log(line)): Promise<HelmTools> {
  const tools = { helm: join(HELM_DIR, 'helm'), scaledObjectCrd: join(KEDA_DIR, 'keda.sh_scaledobjects.yaml') };
  if (!isExecutable(tools.helm)) {
    say(`building helm ${HELM_VERSION} into ${HELM_DIR} (first run only, a few minutes)`);
    await buildHelm(say);
  }
  if (!existsSync(tools.scaledObjectCrd)) await fetchKedaCrd(say);
  return tools;
}
