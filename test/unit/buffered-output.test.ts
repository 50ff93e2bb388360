import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withBufferedOutput } from '../../activities/buffered-output.js';

describe('pg_dump through a 128 KiB stdout buffer', () => {
  const withStdbuf = mkdtempSync(join(tmpdir(), 'ops-stdbuf-'));
  const without = mkdtempSync(join(tmpdir(), 'ops-no-stdbuf-'));
  writeFileSync(join(withStdbuf, 'stdbuf'), '#!/bin/sh\n');
  chmodSync(join(withStdbuf, 'stdbuf'), 0o755);
  afterAll(() => {
    rmSync(withStdbuf, { recursive: true, force: true });
    rmSync(without, { recursive: true, force: true });
  });

  it('runs the command under stdbuf -o128K where the PATH has stdbuf', () => {
    expect(withBufferedOutput('pg_dump', ['--format=custom'], [without, withStdbuf].join(delimiter))).toEqual({
      command: 'stdbuf',
      args: ['-o128K', 'pg_dump', '--format=custom'],
    });
  });

  it('runs the command as it is where there is no stdbuf', () => {
    expect(withBufferedOutput('pg_dump', ['--format=custom'], without)).toEqual({ command: 'pg_dump', args: ['--format=custom'] });
  });

  it("passes the command's output and exit code through unchanged (the real stdbuf)", () => {
    const { command, args } = withBufferedOutput('sh', ['-c', 'printf "%s" "$(seq 1 5000)"; exit 3']);
    expect(command).toBe('stdbuf');
    const run = spawnSync(command, args, { encoding: 'utf8' });
    expect(run.status).toBe(3);
    expect(run.stdout.split('\n')).toHaveLength(5000);
  });
});
