import { z } from 'zod';
import { VULNERABILITY_SEVERITIES } from '../domain/rollout.js';
import { duration } from './policy-incidents.js';

/**
 * The policy file's `rollouts` section: the scanner, which bumps wait for a
 * person, and how long a rollout may take and must then stay healthy.
 */
/** An absent section parses as `{}`, and every key in it has its own default. */
const EVERY_KEY_DEFAULTED = {} as never;

export const rolloutPolicySection = {
  rollouts: z
    .object({
      scanner: z
        .object({
          /** Prints Trivy's JSON report for the image appended as the last argument. */
          command: z.array(z.string().min(1)).min(1).default(['trivy', 'image', '--format', 'json', '--quiet']),
          blockingSeverity: z.enum(VULNERABILITY_SEVERITIES).default('HIGH'),
          timeout: duration('10m'),
        })
        .strict()
        .prefault(EVERY_KEY_DEFAULTED),
      approval: z
        .object({
          /** Bumps that wait for approve({by}); "unknown" is a tag that is not semver or a new repository. */
          requiredFor: z.array(z.enum(['major', 'minor', 'patch', 'downgrade', 'unknown'])).default(['major', 'downgrade', 'unknown']),
          timeout: duration('4h'),
        })
        .strict()
        .prefault(EVERY_KEY_DEFAULTED),
      /** The rollout must complete within this, whatever the workload's own progress deadline. */
      rolloutTimeout: duration('15m'),
      /** After the rollout completes, the workload must stay healthy this long. */
      watchWindow: duration('5m'),
    })
    .strict()
    .prefault(EVERY_KEY_DEFAULTED),
};
