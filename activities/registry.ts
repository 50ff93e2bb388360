import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { ErrorType } from '../src/domain/errors.js';
import { highestTag, isImageDigest, parseImage, pinImage, registryOf } from '../src/domain/rollout.js';

/**
 * Tag discovery from an OCI registry (Docker Registry HTTP API v2): the tags
 * list, followed through its Link pagination, with the anonymous bearer-token
 * challenge registries answer 401 with. Registries on localhost or 127.0.0.1
 * are spoken to over plain HTTP, like Docker's own default; others over HTTPS.
 */
async function fetchWithToken(url: string, token: { value?: string }, init: { method?: string; accept?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: init.accept ?? 'application/json', ...(token.value ? { authorization: `Bearer ${token.value}` } : {}) };
  const method = init.method ?? 'GET';
  let response = await fetch(url, { method, headers, signal: AbortSignal.timeout(15_000) });
  const challenge = response.headers.get('www-authenticate');
  if (response.status === 401 && challenge?.toLowerCase().startsWith('bearer ')) {
    const params = Object.fromEntries([...challenge.slice(7).matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1]!, match[2]!]));
    if (!params.realm) throw new Error(`the registry's challenge has no realm: ${challenge}`);
    const tokenUrl = new URL(params.realm);
    if (params.service) tokenUrl.searchParams.set('service', params.service);
    if (params.scope) tokenUrl.searchParams.set('scope', params.scope);
    const tokenResponse = await fetch(tokenUrl, { signal: AbortSignal.timeout(15_000) });
    if (!tokenResponse.ok) throw ApplicationFailure.nonRetryable(`the registry's token service answered ${tokenResponse.status}`, ErrorType.Unauthorized);
    const body = (await tokenResponse.json()) as { token?: string; access_token?: string };
    token.value = body.token ?? body.access_token;
    response = await fetch(url, { method, headers: { ...headers, authorization: `Bearer ${token.value}` }, signal: AbortSignal.timeout(15_000) });
  }
  return response;
}

function schemeOf(host: string): 'http' | 'https' {
  return /^(localhost|127\.0\.0\.1)(:\d+)?$/.test(host) ? 'http' : 'https';
}

export async function listTags(repository: string): Promise<string[]> {
  const { host, name } = registryOf(repository);
  const scheme = schemeOf(host);
  const token: { value?: string } = {};
  const tags: string[] = [];
  let next: string | undefined = `${scheme}://${host}/v2/${name}/tags/list?n=1000`;
  for (let page = 0; next && page < 100; page += 1) {
    const response = await fetchWithToken(next, token);
    if (response.status === 404) throw ApplicationFailure.nonRetryable(`the registry ${host} has no repository ${name}`, ErrorType.NotFound);
    if (response.status === 401 || response.status === 403) throw ApplicationFailure.nonRetryable(`the registry ${host} refused to list ${name} (${response.status})`, ErrorType.Unauthorized);
    if (!response.ok) throw new Error(`the registry ${host} answered ${response.status} listing ${name}`);
    const body = (await response.json()) as { tags?: string[] | null };
    tags.push(...(body.tags ?? []));
    const link = response.headers.get('link');
    const target = link ? /<([^>]+)>;\s*rel="next"/.exec(link)?.[1] : undefined;
    next = target ? new URL(target, `${scheme}://${host}`).toString() : undefined;
  }
  return tags;
}

/** Every manifest kind a tag may point to; the registry answers with the digest of the one it has. */
const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/**
 * The digest a tag points to now: HEAD of its manifest and the registry's
 * Docker-Content-Digest header, or, from a registry that leaves the header
 * out, the SHA-256 of the manifest it serves.
 */
export async function manifestDigest(image: string): Promise<string> {
  const { repository, tag, digest } = parseImage(image);
  if (isImageDigest(digest)) return digest;
  const { host, name } = registryOf(repository);
  const url = `${schemeOf(host)}://${host}/v2/${name}/manifests/${encodeURIComponent(tag ?? 'latest')}`;
  const token: { value?: string } = {};
  const what = `${name}:${tag ?? 'latest'}`;
  const read = async (method: 'HEAD' | 'GET') => {
    const response = await fetchWithToken(url, token, { method, accept: MANIFEST_TYPES });
    if (response.status === 404) throw ApplicationFailure.nonRetryable(`the registry ${host} has no ${what}`, ErrorType.NotFound);
    if (response.status === 401 || response.status === 403) throw ApplicationFailure.nonRetryable(`the registry ${host} refused to read ${what} (${response.status})`, ErrorType.Unauthorized);
    if (!response.ok) throw new Error(`the registry ${host} answered ${response.status} reading the manifest of ${what}`);
    return response;
  };
  const header = (await read('HEAD')).headers.get('docker-content-digest') ?? undefined;
  if (isImageDigest(header)) return header;
  const manifest = await read('GET');
  const served = manifest.headers.get('docker-content-digest') ?? undefined;
  return isImageDigest(served) ? served : `sha256:${createHash('sha256').update(Buffer.from(await manifest.arrayBuffer())).digest('hex')}`;
}

export function createRegistryActivities() {
  return {
    /** The running image's repository at its highest semver tag of the same flavour. */
    async discoverLatestImage(input: { image: string }): Promise<{ image: string; tags: number }> {
      const { repository, tag } = parseImage(input.image);
      const tags = await listTags(repository);
      const best = highestTag(tag, tags);
      if (!best) throw ApplicationFailure.nonRetryable(`${repository} has no semantic-version tag like ${tag ?? '(none)'} among ${tags.length} tags`, ErrorType.NotFound);
      return { image: `${repository}:${best}`, tags: tags.length };
    },

    /** The image pinned to the digest its tag points to in its registry. */
    async resolveImageDigest(input: { image: string }): Promise<{ image: string }> {
      return { image: pinImage(input.image, await manifestDigest(input.image)) };
    },
  };
}
