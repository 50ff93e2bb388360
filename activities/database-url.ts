import { ApplicationFailure } from '@temporalio/activity';
import { ErrorType } from '../src/domain/errors.js';

/** The URL of a database the policy configures; one it does not is final, never retried. */
export function configuredDatabaseUrl(databaseUrl: (name: string) => string | undefined, database: string): string {
  const url = databaseUrl(database);
  if (!url) throw ApplicationFailure.nonRetryable(`no database named "${database}" is configured`, ErrorType.NotFound);
  return url;
}
