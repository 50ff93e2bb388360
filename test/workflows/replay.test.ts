import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { testStack } from '../support/stack.js';

/**
 * Every recorded history under test/histories replays against today's workflow
 * code: a change that would break running workflows fails here.
 */
const HISTORIES_DIR = fileURLToPath(new URL('../histories/', import.meta.url));
const files = readdirSync(HISTORIES_DIR).filter((name) => name.endsWith('.json'));

describe('replay of recorded histories', () => {
  it('has a recorded history for every workflow type that has shipped', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s replays without nondeterminism', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(join(HISTORIES_DIR, file), 'utf8')));
    await expect(
      Worker.runReplayHistory({ workflowBundle: { codePath: testStack().workflowBundlePath } }, history, file),
    ).resolves.toBeUndefined();
  });
});
