import { join } from 'node:path';
import { goInstallInto } from './kubernetes-tools.js';
import { BIN_DIR } from './paths.js';
import { isExecutable } from './tools.js';

/**
 * The Temporal server itself, for the cluster that runs beside (or instead of)
 * the dev server, built once from the Go module proxy into
 * .ops/bin/temporal-server-<version>/ (`server` and its SQL schema tool `sql`).
 *
 * v1.30.8: the newest release the installed Go (1.26.8) builds as published.
 * v1.30.9 and later want Go 1.26.10; v1.31.x requires go.temporal.io/auto-scaled-workers,
 * a module the proxy refuses (403), so it cannot be built here at all. No v1.30.x
 * go.mod has a replace directive, so plain `go install` takes it.
 */
export const TEMPORAL_SERVER_VERSION = 'v1.30.8';
/** The Web UI the temporal CLI v1.5.1 embeds, as its own server (module already in Go's cache after the CLI build). */
export const TEMPORAL_UI_VERSION = 'v2.42.1';

const SERVER_DIR = join(BIN_DIR, `temporal-server-${TEMPORAL_SERVER_VERSION}`);
const UI_DIR = join(BIN_DIR, `temporal-ui-${TEMPORAL_UI_VERSION}`);

export interface TemporalServerTools {
  /** `temporal-server`: `--config-file F start --service frontend|history|matching|worker`. */
  server: string;
  /** `temporal-sql-tool`: create-database, setup-schema, update-schema. */
  sqlTool: string;
}

/** The server and its schema tool, built on first use (about ten minutes cold on 2 cores). */
export async function ensureTemporalServer(say: (line: string) => void = (line) => console.log(line)): Promise<TemporalServerTools> {
  const tools = { server: join(SERVER_DIR, 'server'), sqlTool: join(SERVER_DIR, 'sql') };
  if (!isExecutable(tools.server) || !isExecutable(tools.sqlTool)) {
    say(`building the Temporal server ${TEMPORAL_SERVER_VERSION} into ${SERVER_DIR} (first run only; about ten minutes on 2 cores)`);
    const module = 'go.temporal.io/server';
    await goInstallInto(SERVER_DIR, [`${module}/cmd/server@${TEMPORAL_SERVER_VERSION}`, `${module}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`], { say, what: 'build the Temporal server' });
  }
  return tools;
}

/** The Temporal Web UI server, built on first use. */
export async function ensureTemporalUi(say: (line: string) => void = (line) => console.log(line)): Promise<string> {
  const binary = join(UI_DIR, 'server');
  if (!isExecutable(binary)) {
    say(`building the Temporal Web UI ${TEMPORAL_UI_VERSION} into ${UI_DIR} (first run only)`);
    await goInstallInto(UI_DIR, `github.com/temporalio/ui-server/v2/cmd/server@${TEMPORAL_UI_VERSION}`, { say, what: 'build the Temporal Web UI' });
  }
  return binary;
}
