import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { BIN_DIR } from './paths.js';

/**
 * The external programs of the embedded stack and how to build them once into
 * .ops/bin when they are not installed. Versions are pinned: later temporal CLI
 * tags carry a `replace` directive that `go install` refuses, and MinIO
 * publishes no semver tags, so its module version is a fixed pseudo-version.
 */
export const TOOLS = {
  temporal: { module: 'github.com/temporalio/cli/cmd/temporal', version: 'v1.5.1', label: 'temporal CLI' },
  minio: { module: 'github.com/minio/minio', version: 'v0.0.0-20260212201848-7aac2a2c5b7c', label: 'MinIO server' },
} as const;

export type ToolName = keyof typeof TOOLS;

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The Go toolchain our tools are built with: on PATH, or where its installer puts it. */
export function findGo(): string | undefined {
  return onPath('go') ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
}

/** Where the tool is, without building it: .ops/bin first (pinned), then PATH for the temporal CLI. */
export function findTool(name: ToolName): string | undefined {
  const local = join(BIN_DIR, name);
  if (isExecutable(local)) return local;
  // A MinIO on PATH may be any version; the temporal CLI on PATH is what users expect us to use.
  return name === 'temporal' ? onPath('temporal') : undefined;
}

/** Finds the tool, or builds it with `go install` while printing progress to `say`. */
export async function ensureTool(name: ToolName, say: (line: string) => void = (line) => console.log(line)): Promise<string> {
  const found = findTool(name);
  if (found) return found;
  const tool = TOOLS[name];
  const go = findGo();
  if (!go) {
    throw new Error(
      `${tool.label} not found: put \`${name}\` on PATH, or install Go 1.25+ so it can be built with go install ${tool.module}@${tool.version}`,
    );
  }
  mkdirSync(BIN_DIR, { recursive: true });
  say(`building ${tool.label} ${tool.version} into ${BIN_DIR} (first run only; several minutes on 2 cores)`);
  const started = Date.now();
  let downloads = 0;
  const output: string[] = [];
  const child = spawn(go, ['install', `${tool.module}@${tool.version}`], {
    env: { ...process.env, GOBIN: BIN_DIR },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (line.startsWith('go: downloading')) downloads += 1;
      else if (line.trim()) output.push(line);
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const ticker = setInterval(() => {
    const seconds = Math.round((Date.now() - started) / 1000);
    say(`  ... ${tool.label}: ${downloads} modules downloaded, compiling (${seconds}s)`);
  }, 20_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(ticker);
  if (code !== 0) {
    throw new Error(`go install ${tool.module}@${tool.version} failed (exit ${code}):\n${output.slice(-20).join('\n')}`);
  }
  say(`built ${tool.label} in ${Math.round((Date.now() - started) / 1000)}s`);
  return join(BIN_DIR, name);
}

/** The version line a tool prints, for the start-up summary. */
export function toolVersion(path: string): string {
  const result = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return (result.stdout || result.stderr || '').split('\n')[0]?.trim() ?? '';
}
