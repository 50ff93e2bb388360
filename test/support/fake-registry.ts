import { createServer, type Server } from 'node:http';
import { closeServer, listenOnLoopback } from './loopback.js';

/**
 * An OCI registry's tags API (Docker Registry HTTP API v2) as registries
 * serve it: 401 with a bearer challenge until a token from its realm is
 * shown, then the tags list a few at a time with a Link header to the next page.
 */
export class FakeRegistry {
  private server: Server | undefined;
  private readonly repositories = new Map<string, string[]>();
  readonly requests: string[] = [];
  pageSize = 2;
  port = 0;

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  setTags(name: string, tags: string[]): void {
    this.repositories.set(name, tags);
  }

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const url = new URL(request.url ?? '/', `http://${this.host}`);
      this.requests.push(url.pathname + url.search);
      if (url.pathname === '/token') {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ token: `token-for-${url.searchParams.get('scope')}` }));
        return;
      }
      const match = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname);
      const name = match?.[1];
      if (request.headers.authorization !== `Bearer token-for-repository:${name}:pull`) {
        response.writeHead(401, {
          'www-authenticate': `Bearer realm="http://${this.host}/token",service="fake-registry",scope="repository:${name}:pull"`,
          'content-type': 'application/json',
        });
        response.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
        return;
      }
      const tags = name ? this.repositories.get(name) : undefined;
      if (!tags) {
        response.writeHead(404, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] }));
        return;
      }
      const sorted = [...tags].sort();
      const last = url.searchParams.get('last');
      const start = last ? sorted.indexOf(last) + 1 : 0;
      const page = sorted.slice(start, start + this.pageSize);
      const more = start + this.pageSize < sorted.length;
      response.writeHead(200, {
        'content-type': 'application/json',
        ...(more ? { link: `</v2/${name}/tags/list?last=${encodeURIComponent(page.at(-1)!)}&n=${this.pageSize}>; rel="next"` } : {}),
      });
      response.end(JSON.stringify({ name, tags: page }));
    });
    this.port = await listenOnLoopback(this.server);
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }
}
