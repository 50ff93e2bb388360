import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { bundleWorkflows } from '../workers/workflow-bundle.js';
import { REPO_ROOT } from './stack/paths.js';

/**
 * `npm run build` step two: bundles the workflows once, next to the compiled
 * worker (dist/workflow-bundle.js), so a production worker starts without
 * running webpack. An optional argument names another output file.
 */
const outFile = resolve(process.argv[2] ?? join(REPO_ROOT, 'dist', 'workflow-bundle.js'));
const code = await bundleWorkflows();
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, code);
console.log(`workflow bundle: ${outFile} (${(code.length / 1024).toFixed(0)} KiB)`);
