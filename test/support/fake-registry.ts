import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { closeServer, listenOnLoopback } from './loopback.js';

/**
 * An OCI registry (Docker Registry HTTP API v2) as registries serve it: 401
 * with a bearer challenge until a token from its realm is shown; the tags list
 * a few at a time with a Link header to the next page; and each tag's image
 * index (HEAD or GET /v2/<name>/manifests/<tag>) with its Docker-Content-Digest,
 * which moves when the tag is pushed again (retag).
 */
export class FakeRegistry {
  private server: Server | undefined;
  private readonly repositories = new Map<string, string[]>();
  /** Pushes per name:tag; a retag makes a new manifest, so a new digest. */
  private readonly pushes = new Map<string, number>();
  readonly requests: string[] = [];
  pageSize = 2;
  port = 0;

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  setTags(name: string, tags: string[]): void {
    this.repositories.set(name, tags);
  }

  /** Pushes `tag` again: it now points to another manifest. */
  retag(name: string, tag: string): void {
    this.pushes.set(`${name}:${tag}`, (this.pushes.get(`${name}:${tag}`) ?? 0) + 1);
  }

  /** The OCI image index `name:tag` points to now. */
  manifest(name: string, tag: string): string {
    const push = this.pushes.get(`${name}:${tag}`) ?? 0;
    const config = createHash('sha256').update(`${name}:${tag}:${push}`).digest('hex');
    return JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${config}`, size: 1024, platform: { architecture: 'amd64', os: 'linux' } }],
    });
  }

  digestOf(name: string, tag: string): string {
    return `sha256:${createHash('sha256').update(this.manifest(name, tag)).digest('hex')}`;
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
      const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
      const match = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname);
      const name = manifest?.[1] ?? match?.[1];
      if (request.headers.authorization !== `Bearer token-for-repository:${name}:pull`) {
        response.writeHead(401, {
          'www-authenticate': `Bearer realm="http://${this.host}/token",service="fake-registry",scope="repository:${name}:pull"`,
          'content-type': 'application/json',
        });
        response.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
        return;
      }
      const tags = name ? this.repositories.get(name) : undefined;
      if (manifest && tags) {
        const tag = decodeURIComponent(manifest[2]!);
        if (!tags.includes(tag)) {
          response.writeHead(404, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: tag } }] }));
          return;
        }
        const body = this.manifest(name!, tag);
        response.writeHead(200, {
          'content-type': 'application/vnd.oci.image.index.v1+json',
          'content-length': Buffer.byteLength(body),
          'docker-content-digest': this.digestOf(name!, tag),
        });
        response.end(request.method === 'HEAD' ? undefined : body);
        return;
      }
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
