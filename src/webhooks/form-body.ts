import type { FastifyInstance } from 'fastify';

/**
 * Form bodies (Slack's interactivity and slash commands, the email ack page)
 * as a flat object, with the raw bytes kept for signature checks.
 */
export function acceptFormBodies(scope: FastifyInstance): void {
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    request.rawBody = text;
    done(null, Object.fromEntries(new URLSearchParams(text)));
  });
}

/** A body the form parser produced, or an empty one. */
export function formFields(body: unknown): Record<string, string> {
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, string>) : {};
}
