import type * as KubernetesClient from '@kubernetes/client-node';

/**
 * @kubernetes/client-node, loaded the first time something talks to
 * Kubernetes rather than when the worker starts: it is the heaviest of our
 * dependencies (about 78 MiB of resident memory and 0.9 s to load, measured
 * by importing it alone), and a worker that only pages never needs it.
 */
export type KubernetesApi = typeof KubernetesClient;

let loaded: KubernetesApi | undefined;

export async function kubernetesApi(): Promise<KubernetesApi> {
  loaded ??= await import('@kubernetes/client-node');
  return loaded;
}

/** The client's API error, or undefined: an error from the API server implies the client was loaded. */
export function asApiException(error: unknown): InstanceType<KubernetesApi['ApiException']> | undefined {
  return loaded && error instanceof loaded.ApiException ? (error as InstanceType<KubernetesApi['ApiException']>) : undefined;
}
