import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './config-error.js';
import { databasePolicySections } from './policy-databases.js';
import { remediationPolicySections } from './policy-remediation.js';
import { reportPolicySections } from './policy-reports.js';
import { rolloutPolicySection } from './policy-rollouts.js';
import { schedulePolicySection } from './policy-schedules.js';
import { escalationPolicySection } from './policy-escalation.js';
import { incidentPolicySections } from './policy-incidents.js';
import { oncallPolicySection } from './policy-oncall.js';
import { certificatePolicySection } from './policy-certificates.js';
import { compliancePolicySection } from './policy-compliance.js';
import { environmentPolicySection } from './policy-environments.js';

/**
 * The policy file (OPS_CONFIG): what the product does, as opposed to where its
 * systems are (the environment). Each feature adds its section here; unknown
 * top-level keys are refused so a typo never silently disables a policy.
 */
export const policySchema = z
  .object({
    version: z.literal(1, { error: 'expected version: 1' }).default(1),
    ...incidentPolicySections,
    ...escalationPolicySection,
    ...databasePolicySections,
    ...schedulePolicySection,
    ...rolloutPolicySection,
    ...remediationPolicySections,
    ...reportPolicySections,
    ...oncallPolicySection,
    ...certificatePolicySection,
    ...compliancePolicySection,
    ...environmentPolicySection,
  })
  .strict()
  .superRefine((policy, context) => {
    // Ladders and approvals name people and schedules of the oncall section.
    // Runs even when a section failed to parse: then there is nothing to cross-check.
    if (!policy.oncall?.people || !Array.isArray(policy.escalation?.policies)) return;
    (policy.rollouts?.approval?.approvers ?? []).forEach((approver, index) => {
      const path = ['rollouts', 'approval', 'approvers', index];
      if (typeof approver === 'string' && !policy.oncall.people[approver]) context.addIssue({ code: 'custom', path, message: `no person "${approver}" in oncall.people` });
      if (typeof approver === 'object' && !policy.oncall.schedules[approver.schedule]) {
        context.addIssue({ code: 'custom', path: [...path, 'schedule'], message: `no schedule named "${approver.schedule}" in oncall.schedules` });
      }
    });
    policy.escalation.policies.forEach((ladder, policyIndex) => {
      const levels = [...(ladder.levels ?? []).map((level, index) => ({ targets: level.targets, path: ['levels', index] })), { targets: ladder.finalTargets ?? [], path: ['finalAction'] }];
      for (const { targets, path } of levels) {
        (targets ?? []).forEach((target, index) => {
          const where = ['escalation', 'policies', policyIndex, ...path, 'targets', index];
          if (target.type === 'schedule' && !policy.oncall.schedules[target.schedule]) {
            context.addIssue({ code: 'custom', path: [...where, 'schedule'], message: `no schedule named "${target.schedule}" in oncall.schedules` });
          }
          if (target.type === 'person' && !policy.oncall.people[target.person]) {
            context.addIssue({ code: 'custom', path: [...where, 'person'], message: `no person "${target.person}" in oncall.people` });
          }
        });
      }
    });
  });

export type Policy = z.infer<typeof policySchema>;

function formatPath(path: PropertyKey[]): string {
  return path.reduce<string>((text, part) => {
    if (typeof part === 'number') return `${text}[${part}]`;
    return text ? `${text}.${String(part)}` : String(part);
  }, '');
}

/** Validates an already-parsed policy object; `origin` names where it came from. */
export function parsePolicy(raw: unknown, origin: string): Policy {
  const parsed = policySchema.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const where = formatPath(issue.path) || '(root)';
    const message =
      issue.code === 'unrecognized_keys' ? `unknown key ${issue.keys.map((key) => `"${key}"`).join(', ')}` : issue.message;
    return `${where}: ${message}`;
  });
  throw new ConfigError(`Invalid policy ${origin}: ${problems.join('; ')}`);
}

/** Loads the policy YAML at `path`, or the defaults when no file is configured. */
export function loadPolicy(path: string | undefined): Policy {
  if (!path) return parsePolicy({}, '(defaults)');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`OPS_CONFIG: cannot read ${path}: ${(error as Error).message}`);
  }
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { prettyErrors: false, lineCounter });
  const [first] = document.errors;
  if (first) {
    const { line, col } = lineCounter.linePos(first.pos[0]);
    const at = ` at line ${line}, column ${col}`;
    throw new ConfigError(`OPS_CONFIG ${path}: not valid YAML${at}: ${first.message.split('\n')[0]}`);
  }
  return parsePolicy(document.toJS(), `OPS_CONFIG ${path}`);
}
