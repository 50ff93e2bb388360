#!/usr/bin/env node
// The entry of `npm start`, `npm test`, `npm run check` and `npm run provision`. Plain JavaScript
// with no dependencies, because its first job is to install them: it runs
// `npm install` when node_modules is missing or older than package-lock.json, makes
// sure the Debian packages the tests use are present, then hands over.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [mode = 'start', ...rest] = process.argv.slice(2);

function fail(message) {
  process.stderr.write(`ops-automation: ${message}\n`);
  process.exit(1);
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) fail(`Node.js 20.19 or newer is required (this is ${process.version})`);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) fail(`${command} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(' ')} exited with ${result.status}`);
}

function ensureNodeModules() {
  const lock = join(root, 'package-lock.json');
  const installed = join(root, 'node_modules', '.package-lock.json');
  const stale = !existsSync(installed) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(installed).mtimeMs);
  if (!stale) return;
  process.stdout.write('installing npm dependencies ...\n');
  // `npm install` honours package-lock.json. Not `npm ci`: it refuses a lock file
  // that lacks optional packages for other platforms, which registries that do
  // not serve them (like this project's build machines') leave out.
  run('npm', ['install', '--no-audit', '--no-fund']);
}

// Command -> Debian package: what the test suite runs for real (compose file
// validation, promtool, Prometheus, Alertmanager, and age, which must decrypt
// our encrypted backups as any user would).
const TEST_PACKAGES = {
  'docker-compose': 'docker-compose',
  prometheus: 'prometheus',
  promtool: 'prometheus',
  'prometheus-alertmanager': 'prometheus-alertmanager',
  age: 'age',
  'age-keygen': 'age',
};

function commandExists(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function ensureTestPackages() {
  const missing = [...new Set(Object.entries(TEST_PACKAGES).filter(([command]) => !commandExists(command)).map(([, pkg]) => pkg))];
  if (missing.length === 0) return;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !commandExists('apt-get')) {
    fail(`the tests need Debian packages ${missing.join(', ')}: install them (apt-get install ${missing.join(' ')}) and run again`);
  }
  process.stdout.write(`installing Debian packages for the tests: ${missing.join(', ')} ...\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  // The packages' own services are not wanted: tests start their own instances.
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

/**
 * Test, bench and chaos runs do not repeat the AWS SDK's notice that Node 20
 * support ends (every test process would print it); `npm start` still shows it.
 */
const quietRun = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

function handOver(command, args, env = process.env) {
  const child = spawn(command, args, { cwd: root, stdio: 'inherit', env });
  // The child sees the terminal's signals itself; relay the ones sent only to us.
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

ensureNodeModules();
const bin = (name) => join(root, 'node_modules', '.bin', name);
switch (mode) {
  case 'start':
    handOver(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'start.ts'), ...rest]);
    break;
  case 'check': {
    // Types, lint (ESLint with the workflow determinism and contract-import rules), then no import circle.
    run(bin('tsc'), ['--noEmit']);
    run(bin('eslint'), ['.']);
    run(bin('madge'), ['--circular', '--no-spinner', '--extensions', 'ts', '--ts-config', 'tsconfig.json', 'src', 'activities', 'workflows', 'workers', 'schedules', 'bench', 'scripts']);
    break;
  }
  case 'test':
    ensureTestPackages();
    handOver(bin('vitest'), ['run', ...rest], quietRun);
    break;
  case 'bench': {
    // Benchmarks print ratios against a baseline measured in the same run; not part of npm test.
    const [name = ''] = rest;
    if (!existsSync(join(root, 'bench', `${name}.ts`))) fail(`unknown benchmark "${name}": see bench/`);
    handOver(process.execPath, ['--import', 'tsx', join(root, 'bench', `${name}.ts`), ...rest.slice(1)], quietRun);
    break;
  }
  case 'chaos':
    // A few minutes of faults against the whole stack, then its invariants; not part of npm test.
    handOver(process.execPath, ['--import', 'tsx', join(root, 'test', 'chaos', 'run.ts'), ...rest], quietRun);
    break;
  case 'provision':
    ensureTestPackages();
    handOver(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'provision.ts'), ...rest]);
    break;
  default:
    fail(`unknown mode ${mode}: expected start, test, check, bench, chaos or provision`);
}
