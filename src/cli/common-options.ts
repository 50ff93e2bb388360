/** Options several opsctl verbs share, spelled the same everywhere. */
export const databaseOption = ['--database <name>', 'a database named in the policy, or "default" (DATABASE_URL)', 'default'] as const;
export const requesterOption = ['--by <who>', 'who asks (recorded in the audit log)', process.env.USER ?? 'opsctl'] as const;
