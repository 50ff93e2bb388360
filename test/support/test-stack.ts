/** What the global setup provisions and every test file reads with `inject('stack')`. */
export interface TestStack {
  runDir: string;
  temporalBinary: string;
  temporalAddress: string;
  namespace: string;
  /** Maintenance database URL of the server, for tests that make databases of their own. */
  adminDatabaseUrl: string;
  databaseUrl: string;
  s3: { endpoint: string; region: string; bucket: string; accessKeyId: string; secretAccessKey: string };
  workflowBundlePath: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: TestStack;
  }
}
