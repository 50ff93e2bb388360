import { createServer, Socket, type Server } from 'node:net';
import type pg from 'pg';
import { createPgPool } from '../../src/clients/postgres.js';

/**
 * A loopback TCP proxy in front of a real service. Cutting it makes the
 * service unreachable for whoever connected through it (the way a network
 * partition or a restarting server looks to a client), restoring it lets
 * connections through again.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly waiters: { bytes: number; resolve: () => void }[] = [];
  port = 0;
  /** Bytes clients have sent through the proxy, for a test that acts mid-transfer. */
  forwardedBytes = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<void> {
    this.server = createServer((client) => {
      const upstream = new Socket();
      upstream.connect(this.targetPort, this.targetHost);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.on('data', (chunk: Buffer) => {
        this.forwardedBytes += chunk.length;
        for (const waiter of this.waiters.filter((w) => this.forwardedBytes >= w.bytes)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      });
      client.pipe(upstream).pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : port;
  }

  /** Resolves once clients have sent `bytes` in total through the proxy. */
  whenForwarded(bytes: number): Promise<void> {
    if (this.forwardedBytes >= bytes) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ bytes, resolve }));
  }

  /** Closes the listener and every connection through it. */
  async cut(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }

  /** Listens again on the same port. */
  async restore(): Promise<void> {
    await this.start(this.port);
  }
}

/**
 * The test database behind a proxy: a pool whose PostgreSQL a test can take
 * away (`proxy.cut()`) and give back (`proxy.restore()`), as a database that
 * is down for a while looks to a client.
 */
export async function proxiedDatabase(databaseUrl: string): Promise<{ proxy: TcpProxy; pool: pg.Pool }> {
  const url = new URL(databaseUrl);
  const proxy = new TcpProxy(url.hostname, Number(url.port || 5432));
  await proxy.start();
  url.host = proxy.address;
  return { proxy, pool: createPgPool(url.toString()) };
}
