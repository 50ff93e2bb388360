import { createServer, Socket } from 'node:net';

/** A TCP port that is free on loopback right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * A TCP port free on loopback right now in [min, max]: for ports a server keeps
 * somewhere narrower than the OS hands out (Temporal stores its membership
 * ports in a PostgreSQL smallint, so they must be below 32768).
 */
export async function freePortInRange(min: number, max: number, taken: ReadonlySet<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const port = min + Math.floor(Math.random() * (max - min + 1));
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.unref();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port between ${min} and ${max}`);
}

/**
 * Starts a server on `count` ports free right now, again on fresh ones when
 * one was taken in between: a port freePort found can be handed to another
 * process's outgoing connection before the server binds it.
 */
export async function startOnFreePorts<T>(
  count: number,
  start: (ports: number[]) => Promise<T>,
  attempts = 3,
  range?: { min: number; max: number },
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    const ports: number[] = [];
    for (let index = 0; index < count; index += 1) ports.push(range ? await freePortInRange(range.min, range.max, new Set(ports)) : await freePort());
    try {
      return await start(ports);
    } catch (error) {
      if (attempt >= attempts || !/address already in use|EADDRINUSE/.test((error as Error).message)) throw error;
    }
  }
}

/** Whether something accepts TCP connections at host:port. */
export function isPortOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host);
  });
}

/** Polls `probe` until it returns true, or fails after `timeoutMs` naming `what`. */
export async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number, intervalMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  const reason = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new Error(`${what} did not become ready within ${Math.round(timeoutMs / 1000)}s${reason}`);
}
