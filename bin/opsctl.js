#!/usr/bin/env node
// opsctl: the compiled CLI when built (npm run build), else the TypeScript source through tsx.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/src/cli/opsctl.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/opsctl.ts', import.meta.url).href);
}
