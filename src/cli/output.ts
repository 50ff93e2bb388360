/**
 * How opsctl speaks: human tables by default, JSON with --json, one clear line
 * on stderr for a user's mistake, and exit codes that mean something.
 */
/** 0 done; 1 the operation failed; 2 bad usage or input; 3 Temporal or PostgreSQL unreachable; 4 no such thing; 5 refused in its state. */
export const EXIT = { ok: 0, failure: 1, usage: 2, unavailable: 3, notFound: 4, refused: 5 } as const;

/** A mistake the user can fix: printed as one line, no stack trace. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
  }
}

export function printTable(rows: Array<Record<string, unknown>>, columns: string[]): void {
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const cell = (value: unknown) => (value === undefined || value === null ? '-' : String(value));
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => cell(row[column]).length)));
  const line = (values: string[]) => values.map((value, index) => value.padEnd(widths[index]!)).join('  ').trimEnd();
  process.stdout.write(`${line(columns.map((column) => column.toUpperCase()))}\n`);
  for (const row of rows) process.stdout.write(`${line(columns.map((column) => cell(row[column])))}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
