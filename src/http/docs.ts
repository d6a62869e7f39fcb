import swaggerUi from '@fastify/swagger-ui';
import type { FastifySwaggerUiOptions } from '@fastify/swagger-ui';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Swagger UI, loaded only from this server whatever URL opened it.
 *
 * @fastify/swagger-ui writes the page's asset URLs from the request URL: at `/?x` they become
 * `//static/swagger-ui-bundle.js`, a protocol-relative URL to a host named "static", and its
 * `/static/index.html` redirects a URL with a query to itself. So the page is served only at its
 * own path (`/`; any other form of it is redirected there), a Content-Security-Policy keeps the
 * browser to our origin even if a URL slipped through (the validator badge, an image from
 * validator.swagger.io, stays off), and the top bar shows the document at `/openapi.json`.
 */
export const DOCS_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "connect-src 'self'",
  "font-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  // Swagger UI's React components set inline style attributes.
  "style-src 'self' 'unsafe-inline'",
].join('; ');

/** The paths that show the page: only `/` itself renders it. */
const PAGE_ROUTES = new Set(['/', '/static/index.html']);

function redirectToPage(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  if (request.method === 'GET' && PAGE_ROUTES.has(request.routeOptions.url ?? '') && request.url !== '/') {
    void reply.redirect('/', 302);
    return;
  }
  done();
}

/** The generated initializer fetches `./json`, the same document: point it at the one we publish. */
function showOpenApiPath(request: FastifyRequest, _reply: FastifyReply, payload: unknown, done: (error: null, payload: unknown) => void): void {
  if (request.routeOptions.url === '/static/swagger-initializer.js' && typeof payload === 'string') {
    done(null, payload.replace("resolveUrl('./json')", "resolveUrl('./openapi.json')"));
    return;
  }
  done(null, payload);
}

export function docsUiOptions(routePrefix: string): FastifySwaggerUiOptions {
  return { routePrefix, staticCSP: DOCS_CSP, uiHooks: { onRequest: redirectToPage } };
}

/**
 * Registers Swagger UI in a scope of its own, whose onSend hook (the plugin passes only onRequest
 * and preHandler to its routes) rewrites the initializer; the routes stay at `routePrefix`.
 */
export async function registerDocsUi(server: FastifyInstance, routePrefix: string): Promise<void> {
  await server.register(async (docs) => {
    docs.addHook('onSend', showOpenApiPath);
    await docs.register(swaggerUi, docsUiOptions(routePrefix));
  });
}
