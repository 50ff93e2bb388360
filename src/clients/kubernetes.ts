import { KubeConfig } from '@kubernetes/client-node';

/** KUBECONFIG when given, else the client's defaults (in-cluster service account, ~/.kube/config). */
export function createKubeConfig(kubeconfigPath: string | undefined): KubeConfig {
  const config = new KubeConfig();
  if (kubeconfigPath) config.loadFromFile(kubeconfigPath);
  else config.loadFromDefault();
  return config;
}
