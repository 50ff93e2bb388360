/** Options several opsctl verbs share, spelled the same everywhere. */
export const databaseOption = ['--database <name>', 'a database named in the policy, or "default" (DATABASE_URL)', 'default'] as const;
export const requesterOption = ['--by <who>', 'who asks (recorded in the audit log)', process.env.USER ?? 'opsctl'] as const;

/** Commander's accumulator for an option that may be repeated (`--label a=1 --label b=2`). */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
