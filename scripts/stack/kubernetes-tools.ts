import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { BIN_DIR, REPO_ROOT } from './paths.js';
import { findGo, isExecutable } from './tools.js';

/**
 * The embedded Kubernetes control plane's programs, built once from the Go
 * module proxy into .ops/bin/<name>-<version>/ (a new version builds beside
 * the old, never over it):
 * - kube-apiserver, kube-controller-manager, kube-scheduler from k8s.io/kubernetes,
 *   whose go.mod points its 31 staging modules at ./staging: a wrapper module
 *   of ours requires it and replaces each staging module by its published
 *   version (the same versions every time, checked with `go version -m`);
 * - etcd, whose go.mod has `../` replaces too: a wrapper requiring its modules;
 * - kwok, the kubelets and nodes (plain `go install`).
 * Builds run at nice 19 so tests beside them keep their cores; about 20 minutes
 * cold on 2 cores (mostly kube-apiserver), seconds once Go's build cache is warm.
 */
export const KUBERNETES_VERSION = 'v1.37.2';
const STAGING_VERSION = 'v0.37.2';
export const ETCD_VERSION = 'v3.7.3';
export const KWOK_VERSION = 'v0.8.0';

export const KUBE_DIR = join(BIN_DIR, `k8s-${KUBERNETES_VERSION}`);
export const ETCD_DIR = join(BIN_DIR, `etcd-${ETCD_VERSION}`);
export const KWOK_DIR = join(BIN_DIR, `kwok-${KWOK_VERSION}`);
export const SRC_DIR = join(REPO_ROOT, '.ops', 'src');

export interface KubernetesTools {
  apiserver: string;
  controllerManager: string;
  scheduler: string;
  etcd: string;
  kwok: string;
  /** kwok's own node and pod lifecycle stages, copied from its module beside the binary. */
  kwokStagesDir: string;
}

function goBinary(): string {
  const go = findGo();
  if (!go) throw new Error('the embedded Kubernetes is built with Go 1.26+: install Go, or set KUBECONFIG to a cluster of your own');
  return go;
}

/** Runs go with a nice of 19; the last lines of its output name what failed. */
export async function go(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; say: (line: string) => void; what: string }): Promise<string> {
  const started = Date.now();
  const child = spawn('nice', ['-n', '19', goBinary(), ...args], {
    cwd: options.cwd,
    env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  const tail: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim() && !line.startsWith('go: downloading')) tail.push(line);
    if (tail.length > 40) tail.splice(0, tail.length - 40);
  });
  const ticker = setInterval(() => options.say(`  ... ${options.what} (${Math.round((Date.now() - started) / 1000)}s)`), 60_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearInterval(ticker);
  if (code !== 0) throw new Error(`${options.what} failed (go ${args.join(' ')}, exit ${code}):\n${tail.join('\n')}`);
  return stdout;
}

/**
 * Moves a finished build into its versioned directory under .ops/bin,
 * replacing what is there (an older or partial build, or the same build made
 * beside this one by npm run provision and a test run at once).
 */
export function moveIntoPlace(staged: string, dir: string): void {
  mkdirSync(BIN_DIR, { recursive: true });
  try {
    renameSync(staged, dir);
  } catch (error) {
    if (!existsSync(dir)) throw error;
    const replaced = `${dir}.replaced-${process.pid}`;
    renameSync(dir, replaced);
    renameSync(staged, dir);
    rmSync(replaced, { recursive: true, force: true });
  }
}

function versionFlags(version: string): string {
  const [major, minor] = version.replace(/^v/, '').split('.');
  const stamp = (pkg: string) =>
    [`-X ${pkg}.gitVersion=${version}`, `-X ${pkg}.gitMajor=${major}`, `-X ${pkg}.gitMinor=${minor}`, `-X ${pkg}.gitTreeState=clean`, `-X ${pkg}.buildDate=2026-01-01T00:00:00Z`].join(' ');
  // Without the stamp /version says v0.0.0-master and clients cannot parse it.
  return `-s -w ${stamp('k8s.io/component-base/version')} ${stamp('k8s.io/client-go/pkg/version')}`;
}

async function buildKubernetes(say: (line: string) => void): Promise<void> {
  const moduleDir = join(SRC_DIR, `k8s-${KUBERNETES_VERSION}`);
  mkdirSync(moduleDir, { recursive: true });
  const download = JSON.parse(await go(['mod', 'download', '-json', `k8s.io/kubernetes@${KUBERNETES_VERSION}`], { cwd: moduleDir, say, what: 'download k8s.io/kubernetes' })) as { GoMod: string };
  const upstream = readFileSync(download.GoMod, 'utf8');
  const staging = [...new Set([...upstream.matchAll(/^\s*(k8s\.io\/[\w.-]+) v0\.0\.0$/gm)].map((match) => match[1]!))].sort();
  if (staging.length === 0) throw new Error(`no staging modules found in ${download.GoMod}`);
  writeFileSync(
    join(moduleDir, 'go.mod'),
    [
      'module ops-automation/embedded-kubernetes',
      '',
      'go 1.26',
      '',
      `require k8s.io/kubernetes ${KUBERNETES_VERSION}`,
      '',
      ...staging.map((name) => `replace ${name} => ${name} ${STAGING_VERSION}`),
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(moduleDir, 'tools.go'),
    ['//go:build tools', '', 'package tools', '', ...['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((name) => `import _ "k8s.io/kubernetes/cmd/${name}"`), ''].join('\n'),
  );
  say(`  resolving k8s.io/kubernetes ${KUBERNETES_VERSION} and ${staging.length} staging modules at ${STAGING_VERSION}`);
  await go(['mod', 'tidy'], { cwd: moduleDir, say, what: 'go mod tidy (Kubernetes)' });
  const staged = join(moduleDir, 'bin');
  rmSync(staged, { recursive: true, force: true });
  mkdirSync(staged, { recursive: true });
  for (const name of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
    const started = Date.now();
    say(`  building ${name} ${KUBERNETES_VERSION}`);
    await go(['build', '-trimpath', '-ldflags', versionFlags(KUBERNETES_VERSION), '-o', join(staged, name), `k8s.io/kubernetes/cmd/${name}`], { cwd: moduleDir, say, what: `build ${name}` });
    say(`  built ${name} in ${Math.round((Date.now() - started) / 1000)}s`);
  }
  // Only a complete set is moved into place: an interrupted build starts again.
  moveIntoPlace(staged, KUBE_DIR);
}

async function buildEtcd(say: (line: string) => void): Promise<void> {
  const moduleDir = join(SRC_DIR, `etcd-${ETCD_VERSION}`);
  mkdirSync(moduleDir, { recursive: true });
  const modules = ['go.etcd.io/etcd/server/v3', 'go.etcd.io/etcd/api/v3', 'go.etcd.io/etcd/client/pkg/v3', 'go.etcd.io/etcd/client/v3', 'go.etcd.io/etcd/pkg/v3'];
  writeFileSync(join(moduleDir, 'go.mod'), ['module ops-automation/embedded-etcd', '', 'go 1.26', '', 'require (', ...modules.map((name) => `\t${name} ${ETCD_VERSION}`), ')', ''].join('\n'));
  writeFileSync(join(moduleDir, 'tools.go'), ['//go:build tools', '', 'package tools', '', 'import _ "go.etcd.io/etcd/server/v3"', ''].join('\n'));
  await go(['mod', 'tidy'], { cwd: moduleDir, say, what: 'go mod tidy (etcd)' });
  const staged = join(moduleDir, 'bin');
  mkdirSync(staged, { recursive: true });
  await go(['build', '-trimpath', '-ldflags', '-s -w', '-o', join(staged, 'etcd'), 'go.etcd.io/etcd/server/v3'], { cwd: moduleDir, say, what: 'build etcd' });
  moveIntoPlace(staged, ETCD_DIR);
}

/** `go install <package>@<version>` (a module with no replace directives) into its versioned directory under .ops/bin. */
export async function goInstallInto(dir: string, target: string | string[], options: { ldflags?: string; say: (line: string) => void; what: string }): Promise<void> {
  // A staging directory of this process's own: two builds of the same tool must not share one.
  const staged = join(SRC_DIR, `${basename(dir)}-bin-${process.pid}`);
  mkdirSync(staged, { recursive: true });
  await go(['install', '-trimpath', '-ldflags', `-s -w ${options.ldflags ?? ''}`.trim(), ...[target].flat()], { env: { GOBIN: staged, GOFLAGS: '' }, say: options.say, what: options.what });
  moveIntoPlace(staged, dir);
}

async function buildKwok(say: (line: string) => void): Promise<void> {
  await goInstallInto(KWOK_DIR, `sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}`, { say, what: 'build kwok' });
}

/**
 * kwok's own stages (node and pod lifecycles), copied beside its binary once, so
 * starting the control plane needs neither Go nor the module cache.
 */
async function kwokStages(say: (line: string) => void): Promise<string> {
  const copied = join(KWOK_DIR, 'stages');
  if (existsSync(copied)) return copied;
  const out = await go(['env', 'GOMODCACHE'], { say, what: 'go env' });
  const dir = join(out.trim(), `sigs.k8s.io/kwok@${KWOK_VERSION}`, 'kustomize', 'stage');
  if (!existsSync(dir)) await go(['mod', 'download', `sigs.k8s.io/kwok@${KWOK_VERSION}`], { cwd: SRC_DIR, env: { GOFLAGS: '' }, say, what: 'download kwok' });
  if (!existsSync(dir) || readdirSync(dir).length === 0) throw new Error(`kwok's stages are not in ${dir}`);
  cpSync(dir, copied, { recursive: true });
  // The module cache is read-only; the copy must not be, or a rebuild could not replace it.
  const writable = (path: string): void => {
    chmodSync(path, statSync(path).isDirectory() ? 0o755 : 0o644);
    if (statSync(path).isDirectory()) for (const name of readdirSync(path)) writable(join(path, name));
  };
  writable(copied);
  return copied;
}

/** Finds the control plane's programs, building what is missing (see above for how long). */
export async function ensureKubernetesTools(say: (line: string) => void = (line) => console.log(line)): Promise<KubernetesTools> {
  const tools = {
    apiserver: join(KUBE_DIR, 'kube-apiserver'),
    controllerManager: join(KUBE_DIR, 'kube-controller-manager'),
    scheduler: join(KUBE_DIR, 'kube-scheduler'),
    etcd: join(ETCD_DIR, 'etcd'),
    kwok: join(KWOK_DIR, 'kwok'),
  };
  mkdirSync(SRC_DIR, { recursive: true });
  const started = Date.now();
  const missing = Object.values(tools).filter((path) => !isExecutable(path));
  if (missing.length > 0) say(`building the embedded Kubernetes ${KUBERNETES_VERSION} (etcd ${ETCD_VERSION}, kwok ${KWOK_VERSION}) into ${BIN_DIR}: first run only, about 20 minutes cold on 2 cores`);
  if (!isExecutable(tools.etcd)) await buildEtcd(say);
  if (!isExecutable(tools.kwok)) await buildKwok(say);
  if (!isExecutable(tools.apiserver) || !isExecutable(tools.controllerManager) || !isExecutable(tools.scheduler)) await buildKubernetes(say);
  if (missing.length > 0) say(`built the embedded Kubernetes in ${Math.round((Date.now() - started) / 1000)}s`);
  return { ...tools, kwokStagesDir: await kwokStages(say) };
}
