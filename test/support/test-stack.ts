import type { EphemeralStack } from '../../scripts/stack/ephemeral-stack.js';

/** What the global setup provisions and every test file reads with `inject('stack')`. */
export type TestStack = EphemeralStack;

declare module 'vitest' {
  export interface ProvidedContext {
    stack: TestStack;
  }
}
