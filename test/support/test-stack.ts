import type { EphemeralStack } from '../../scripts/stack/ephemeral-stack.js';
import type { HelmTools } from '../../scripts/stack/helm-tools.js';
import type { EmbeddedKubernetes } from '../../scripts/stack/kubernetes.js';

/** What the global setup provisions and every test file reads with `inject('stack')`. */
export type TestStack = EphemeralStack;

/** The embedded Kubernetes control plane every Kubernetes test runs against (`inject('kubernetes')`). */
export type TestKubernetes = Omit<EmbeddedKubernetes, 'stop' | 'processes'>;

declare module 'vitest' {
  export interface ProvidedContext {
    stack: TestStack;
    kubernetes: TestKubernetes;
    /** helm and KEDA's ScaledObject CRD, for the chart test. */
    helm: HelmTools;
  }
}
