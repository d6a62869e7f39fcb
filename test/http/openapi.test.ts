import { describe, expect, it } from 'vitest';
import { API_KEY, httpHarness } from '../support/http.js';

interface Operation {
  readonly summary?: string;
  readonly tags?: readonly string[];
  readonly parameters?: readonly { readonly name: string; readonly in: string; readonly required?: boolean }[];
  readonly requestBody?: unknown;
  readonly responses?: Readonly<Record<string, unknown>>;
  readonly security?: readonly unknown[];
}
interface OpenApi {
  readonly openapi: string;
  readonly info: { readonly title: string; readonly version: string };
  readonly paths: Readonly<Record<string, Readonly<Record<string, Operation>>>>;
  readonly components: { readonly securitySchemes: Readonly<Record<string, unknown>> };
  readonly security: readonly Readonly<Record<string, readonly string[]>>[];
  readonly tags: readonly { readonly name: string }[];
}

/** Every route WAHA clients call, as the reference lists them (OpenAPI path templates). */
const WAHA_ROUTES = [
  'post /api/{session}/presence',
  'get /api/{session}/presence',
  'get /api/{session}/presence/{chatId}',
  'post /api/{session}/presence/{chatId}/subscribe',
  'post /api/startTyping',
  'post /api/stopTyping',
  'get /api/sessions',
  'post /api/sessions',
  'get /api/sessions/{session}',
  'put /api/sessions/{session}',
  'delete /api/sessions/{session}',
  'post /api/sessions/{session}/start',
  'post /api/sessions/{session}/stop',
  'post /api/sessions/{session}/restart',
  'post /api/sessions/{session}/logout',
  'get /api/sessions/{session}/me',
  'get /api/{session}/auth/qr',
  'post /api/{session}/auth/request-code',
  'get /health',
];

/** Routes beyond WAHA's (ours): documented like the others, and marked as ours in their summary. */
const OUR_ROUTES = [
  'get /api/{session}/presence/subscriptions',
  'delete /api/{session}/presence/{chatId}/subscribe',
];

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

function operations(doc: OpenApi): [string, string, Operation][] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, operation]): [string, string, Operation] => [method, path, operation]),
  );
}

/** Collects every `$ref` in the document; all must point inside it. */
function refs(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refs(item, found);
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === '$ref' && typeof item === 'string') found.push(item);
      else refs(item, found);
    }
  }
  return found;
}

describe('OpenAPI document', () => {
  it('is a well-formed OpenAPI 3.1 document that lists every route of the server', async () => {
    // With the events area's routes, as createServer registers them, so that they are checked too.
    const h = await httpHarness();
    const response = await h.server.inject({ method: 'GET', url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    const doc = response.json<OpenApi>();

    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBe('wa-presence');
    expect(doc.components.securitySchemes).toEqual({ api_key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } });
    expect(doc.security).toEqual([{ api_key: [] }]);

    const ops = operations(doc);
    const listed = ops.map(([method, path]) => `${method} ${path}`);
    for (const route of WAHA_ROUTES) expect(listed, route).toContain(route);
    for (const route of OUR_ROUTES) {
      expect(listed, route).toContain(route);
      const [method = '', path = ''] = route.split(' ');
      expect(doc.paths[path]?.[method]?.summary, route).toContain("ours, not WAHA's");
    }

    // Every route the server registered is documented, except HEAD twins and the hidden ones: the
    // docs themselves and the WebSocket (OpenAPI cannot describe it; the README does).
    const shown = h.routes.filter((route) => route.method !== 'HEAD');
    const hidden = new Set(shown.filter((route) => route.hidden).map((route) => route.url));
    expect([...hidden].filter((url) => !['/', '/json', '/yaml', '/openapi.json', '/-json', '/ws', '/metrics'].includes(url) && !url.startsWith('/static/') && !url.startsWith('/dashboard'))).toEqual([]);
    const registered = shown
      .filter((route) => !route.hidden)
      .map((route) => `${route.method.toLowerCase()} ${route.url.replace(/:([A-Za-z]+)/g, '{$1}')}`);
    expect(new Set(listed)).toEqual(new Set(registered));

    const tags = new Set(doc.tags.map((tag) => tag.name));
    for (const [method, path, operation] of ops) {
      const where = `${method} ${path}`;
      expect(operation.summary, where).toBeTruthy();
      for (const tag of operation.tags ?? []) expect(tags, `${where} tag ${tag}`).toContain(tag);
      const statuses = Object.keys(operation.responses ?? {});
      expect(statuses.some((status) => /^2\d\d$/.test(status)), `${where} has a 2xx response`).toBe(true);
      // Path templates and path parameters agree both ways.
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
      const declared = (operation.parameters ?? []).filter((parameter) => parameter.in === 'path');
      expect(declared.map((parameter) => parameter.name).sort(), where).toEqual(templated.sort());
      for (const parameter of declared) expect(parameter.required, `${where} ${parameter.name}`).toBe(true);
      if (method === 'get' || method === 'delete') expect(operation.requestBody, `${where} has no body`).toBeUndefined();
      // Protected unless it opts out (health): 401 documented there.
      if (operation.security === undefined) expect(statuses, `${where} documents 401`).toContain('401');
    }
    expect(doc.paths['/health']?.get?.security).toEqual([]);
    for (const ref of refs(doc)) expect(ref.startsWith('#/components/'), ref).toBe(true);
  });

  it('Swagger UI is served at / and points at the document', async () => {
    const h = await httpHarness();
    const ui = await h.server.inject({ method: 'GET', url: '/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toContain('text/html');
    const json = await h.server.inject({ method: 'GET', url: '/json', headers: { 'x-api-key': API_KEY } });
    expect(json.statusCode).toBe(200);
    expect(json.json<OpenApi>().paths).toHaveProperty(['/api/{session}/presence']);
  });
});
