import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The repository root and the git-ignored .ops/ directory that holds all local state. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** State of the embedded stack (databases, logs); OPS_STATE_DIR moves it, for a second stack beside the first. */
export const OPS_DIR = process.env.OPS_STATE_DIR ?? join(REPO_ROOT, '.ops');
export const LOG_DIR = join(OPS_DIR, 'logs');
/** Built tools are shared by every stack of this checkout. */
export const BIN_DIR = join(REPO_ROOT, '.ops', 'bin');
