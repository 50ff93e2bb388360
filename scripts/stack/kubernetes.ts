import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { ensureKubernetesTools, type KubernetesTools } from './kubernetes-tools.js';
import { freePort, waitFor } from './net.js';
import { REPO_ROOT } from './paths.js';
import { ManagedProcess } from './process.js';

/**
 * The embedded Kubernetes control plane: etcd, kube-apiserver (TLS on
 * loopback, RBAC, service-account tokens), kube-controller-manager (the
 * Deployment, ReplicaSet, StatefulSet, disruption and service-account
 * controllers that make a cluster behave like one), kube-scheduler, and kwok
 * standing in for the kubelets of a few fake nodes, so pods are scheduled,
 * become Running and Ready, and fail the way a test asks. Everything lives in
 * `dir`: the certificates, etcd's data, the logs and the admin kubeconfig.
 */
export interface EmbeddedKubernetes {
  /** The admin kubeconfig (a static token in system:masters). */
  kubeconfig: string;
  server: string;
  caFile: string;
  token: string;
  nodes: string[];
  /** etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, in start order. */
  processes: ManagedProcess[];
  /** Stops every part, newest first, and removes etcd's data (the logs stay). */
  stop(): Promise<void>;
}

/** kwok manages the nodes that carry this annotation, and only those. */
export const FAKE_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

function openssl(args: string[], cwd: string): void {
  const result = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
}

/** A CA, a serving certificate for 127.0.0.1 and localhost, and the service-account signing key pair. */
function makePki(dir: string): { ca: string; cert: string; key: string; saKey: string; saPub: string } {
  mkdirSync(dir, { recursive: true });
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-subj', '/CN=ops-embedded-ca'], dir);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default\nextendedKeyUsage=serverAuth\n');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver'], dir);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '3650', '-extfile', 'server.ext'], dir);
  openssl(['genrsa', '-out', 'sa.key', '2048'], dir);
  openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), saKey: join(dir, 'sa.key'), saPub: join(dir, 'sa.pub') };
}

function kubeconfigYaml(server: string, caFile: string, token: string): string {
  const ca = readFileSync(caFile).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: embedded`,
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    'users:',
    '- name: admin',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: embedded',
    '  context: { cluster: embedded, user: admin }',
    'current-context: embedded',
    '',
  ].join('\n');
}

const caCache = new Map<string, Buffer>();
const caOf = (file: string): Buffer => {
  let ca = caCache.get(file);
  if (!ca) caCache.set(file, (ca = readFileSync(file)));
  return ca;
};

/** One request to the API server as the admin; resolves with the status and the body. */
export function apiRequest(cluster: Pick<EmbeddedKubernetes, 'server' | 'caFile' | 'token'>, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  const url = new URL(path, cluster.server);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: caOf(cluster.caFile),
        headers: { authorization: `Bearer ${cluster.token}`, ...(payload ? { 'content-type': 'application/json' } : {}) },
        timeout: 10_000,
      },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    req.once('error', reject);
    req.once('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 10s`)));
    req.end(payload);
  });
}

/** kwok's own node and pod lifecycles, and ours beside them, as one multi-document file. */
function kwokConfig(tools: KubernetesTools, dir: string): string {
  const documents: string[] = [];
  const walk = (path: string) => {
    for (const name of readdirSync(path).sort()) {
      const full = join(path, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.yaml') && name !== 'kustomization.yaml' && !full.includes('/testdata/')) documents.push(readFileSync(full, 'utf8').trim());
    }
  };
  for (const lifecycle of ['node/fast', 'node/heartbeat-with-lease', 'pod/fast']) walk(join(tools.kwokStagesDir, lifecycle));
  documents.push(readFileSync(join(REPO_ROOT, 'deploy', 'kwok', 'failure-stages.yaml'), 'utf8').trim());
  const file = join(dir, 'kwok.yaml');
  writeFileSync(file, `${documents.join('\n---\n')}\n`);
  return file;
}

export async function startEmbeddedKubernetes(options: { dir: string; say?: (line: string) => void; nodes?: number }): Promise<EmbeddedKubernetes> {
  const say = options.say ?? ((line: string) => console.log(line));
  const tools = await ensureKubernetesTools(say);
  const { dir } = options;
  mkdirSync(dir, { recursive: true });
  const pki = makePki(join(dir, 'pki'));
  const token = randomBytes(24).toString('hex');
  const tokens = join(dir, 'pki', 'tokens.csv');
  writeFileSync(tokens, `${token},admin,admin-uid,"system:masters"\n`);
  // A port found free may be taken (by an outgoing connection's source port) before it is bound:
  // each is picked right before its program starts, and the controller manager and scheduler serve none.
  const [etcdPort, peerPort] = await Promise.all([freePort(), freePort()]);
  let server = '';
  const kubeconfig = join(dir, 'kubeconfig');
  const logs = join(dir, 'logs');
  const parts: ManagedProcess[] = [];
  const stop = async () => {
    for (const part of [...parts].reverse()) await part.stop(5_000);
    // The logs stay for a post-mortem; etcd's data is worth nothing after the run.
    rmSync(join(dir, 'etcd'), { recursive: true, force: true });
  };
  const start = (name: string, command: string, args: string[]) => {
    const part = ManagedProcess.start(name, command, args, { logFile: join(logs, `${name}.log`) });
    parts.push(part);
    return part;
  };
  const healthy = async (part: ManagedProcess, probe: () => Promise<boolean>, timeoutMs: number) => {
    await waitFor(part.name, async () => {
      if (!part.running) throw new Error(`${part.name} exited:\n${part.tail()}`);
      return probe().catch(() => false);
    }, timeoutMs);
  };
  try {
    const etcd = start('etcd', tools.etcd, [
      '--name=embedded',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=embedded=http://127.0.0.1:${peerPort}`,
      // A test cluster: losing it on a power cut costs nothing, an fsync per write costs every test.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await healthy(etcd, async () => (await fetch(`http://127.0.0.1:${etcdPort}/health`)).ok, 30_000);
    const apiPort = await freePort();
    server = `https://127.0.0.1:${apiPort}`;
    writeFileSync(kubeconfig, kubeconfigYaml(server, pki.ca, token), { mode: 0o600 });
    const apiserver = start('kube-apiserver', tools.apiserver, [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${pki.cert}`,
      `--tls-private-key-file=${pki.key}`,
      `--client-ca-file=${pki.ca}`,
      `--token-auth-file=${tokens}`,
      '--authorization-mode=Node,RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki.saPub}`,
      `--service-account-signing-key-file=${pki.saKey}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      // Without it the server exits: 127.0.0.1 is in the loopback range the endpoint reconciler refuses.
      '--endpoint-reconciler-type=none',
      '--v=0',
    ]);
    await healthy(apiserver, async () => (await apiRequest({ server, caFile: pki.ca, token }, 'GET', '/readyz')).status === 200, 60_000);
    const authFlags = [`--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`, '--leader-elect=false', '--bind-address=127.0.0.1'];
    start('kube-controller-manager', tools.controllerManager, [
      ...authFlags,
      // Their health endpoints are not needed here: no port to race for.
      '--secure-port=0',
      `--service-account-private-key-file=${pki.saKey}`,
      `--root-ca-file=${pki.ca}`,
      '--use-service-account-credentials=true',
      '--controllers=*',
      '--v=0',
    ]);
    start('kube-scheduler', tools.scheduler, [...authFlags, '--secure-port=0', '--v=0']);
    start('kwok', tools.kwok, [
      `--kubeconfig=${kubeconfig}`,
      `--config=${kwokConfig(tools, dir)}`,
      '--manage-all-nodes=false',
      `--manage-nodes-with-annotation-selector=${FAKE_NODE_ANNOTATION}=fake`,
      // Nodes renew a Lease like kubelets do (the heartbeat-with-lease stage assumes it); without it
      // the node controller marks them NotReady after 40 s, and every pod on them unready.
      '--node-lease-duration-seconds=40',
      '--server-address=127.0.0.1:0',
    ]);
    const nodes = Array.from({ length: options.nodes ?? 3 }, (_, index) => `kwok-node-${index}`);
    for (const name of nodes) {
      const created = await apiRequest({ server, caFile: pki.ca, token }, 'POST', '/api/v1/nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name, annotations: { [FAKE_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' }, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok' } },
        status: { allocatable: { cpu: '32', memory: '256Gi', pods: '110' }, capacity: { cpu: '32', memory: '256Gi', pods: '110' } },
      });
      if (created.status !== 201 && created.status !== 409) throw new Error(`could not create node ${name}: ${created.status} ${created.body}`);
    }
    // Ready when the nodes are and the service-account controller has made `default` (pods need it).
    await waitFor('the embedded Kubernetes', async () => {
      for (const part of parts) if (!part.running) throw new Error(`${part.name} exited:\n${part.tail()}`);
      const sa = await apiRequest({ server, caFile: pki.ca, token }, 'GET', '/api/v1/namespaces/default/serviceaccounts/default');
      if (sa.status !== 200) return false;
      const list = JSON.parse((await apiRequest({ server, caFile: pki.ca, token }, 'GET', '/api/v1/nodes')).body) as { items: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }> };
      return list.items.filter((node) => node.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True')).length >= nodes.length;
    }, 60_000, 250);
    return { kubeconfig, server, caFile: pki.ca, token, nodes, processes: parts, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
