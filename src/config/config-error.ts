/**
 * A configuration problem a person must fix. Its message is one line naming the
 * variable (or policy path) and what is wrong; entrypoints print it without a
 * stack trace and exit non-zero.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
