#!/usr/bin/env node
// opsctl: the compiled CLI when a build is there and newer than the sources
// (npm run build), else the TypeScript source through tsx, so a stale build in
// a working checkout never hides a change.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiled = new URL('../dist/src/cli/opsctl.js', import.meta.url);

function newestSource(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

const sources = ['src', 'workflows', 'activities', 'schedules'].map((dir) => newestSource(`${root}/${dir}`));
if (existsSync(compiled) && statSync(compiled).mtimeMs >= Math.max(...sources)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/opsctl.ts', import.meta.url).href);
}
