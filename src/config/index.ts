import { loadEnv, type Env } from './env.js';
import { loadPolicy, type Policy } from './policy.js';

export { ConfigError } from './config-error.js';
export type { Env } from './env.js';
export type { Policy } from './policy.js';

export interface AppConfig {
  env: Env;
  policy: Policy;
}

/** Environment first, then the policy file it names; both fail with one clear line. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): AppConfig {
  const env = loadEnv(source);
  return { env, policy: loadPolicy(env.OPS_CONFIG) };
}
