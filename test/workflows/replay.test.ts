import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import * as workflows from '../../workflows/index.js';
import { quietSdkRuntime, testStack } from '../support/stack.js';

/**
 * Every recorded history under test/histories replays against today's workflow
 * code: a change that would break running workflows fails here.
 */
const HISTORIES_DIR = fileURLToPath(new URL('../histories/', import.meta.url));
const INDEX = 'workflow-ids.json';
const files = readdirSync(HISTORIES_DIR).filter((name) => name.endsWith('.json') && name !== INDEX);
/** A history does not carry its workflow ID, and workflows derive child IDs from it. */
const workflowIds = JSON.parse(readFileSync(join(HISTORIES_DIR, INDEX), 'utf8')) as Record<string, string>;

quietSdkRuntime();

describe('replay of recorded histories', () => {
  it('has a recorded history, and its workflow ID, for every workflow type that has shipped', () => {
    const types = files.map((file) => file.split('-')[0]);
    expect(new Set(types)).toEqual(new Set(Object.keys(workflows)));
    expect(Object.keys(workflowIds).sort()).toEqual([...files].sort());
  });

  it.each(files)('%s replays without nondeterminism', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(join(HISTORIES_DIR, file), 'utf8')));
    await expect(
      Worker.runReplayHistory({ workflowBundle: { codePath: testStack().workflowBundlePath } }, history, workflowIds[file]),
    ).resolves.toBeUndefined();
  });
});
