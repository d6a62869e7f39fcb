import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { EngineFactory } from './engines/engine.js';
import { SERVER_VERSION } from './events/envelope.js';
import type { EventPublisher } from './events/publisher.js';
import { requireApiKey, resolveApiKey } from './http/api-key.js';
import { registerErrorHandling } from './http/errors.js';
import { ErrorSchema } from './http/schemas.js';
import { authRoutes } from './http/routes/auth.js';
import { healthRoutes } from './http/routes/health.js';
import { presenceRoutes } from './http/routes/presence.js';
import { sessionRoutes } from './http/routes/sessions.js';
import { createSessionManager } from './sessions/manager.js';
import type { SessionManager, SessionManagerDeps } from './sessions/manager.js';
import { DEFAULT_RENEWAL_POLICY } from './sessions/renewal.js';
import type { Sleep } from './sessions/renewal.js';
import type { LeaseFence, Storage } from './storage/index.js';

/** Registers more routes behind the API key (the WebSocket, deliveries, the sandbox admin API). */
export type RouteRegistrar = (scope: FastifyInstance) => Promise<void>;

export interface AppDeps {
  readonly config: Config;
  readonly storage: Storage;
  readonly engines: EngineFactory;
  readonly publisher: EventPublisher;
  readonly logger: Logger;
  /** Registered inside the API-key scope, after the core routes. */
  readonly routes?: readonly RouteRegistrar[];
  /** Registered outside the API-key scope (the dashboard's shell and assets). */
  readonly publicRoutes?: readonly RouteRegistrar[];
  /** Tests inject a sleep that does not wait (renewal rate limit and backoff). */
  readonly sleep?: Sleep;
  /** Several servers (src/cluster): the lease fence an engine must hold before it starts (see `SessionManagerDeps.claim`). */
  readonly claim?: (session: string) => Promise<LeaseFence>;
  /** Several servers: the cluster's view of sessions run elsewhere, for the session list (see `SessionManagerDeps.sharedStatuses`). */
  readonly sharedStatuses?: SessionManagerDeps['sharedStatuses'];
}

export interface App {
  readonly server: FastifyInstance;
  readonly sessions: SessionManager;
  /** The key clients send as X-Api-Key (configured or generated). */
  readonly apiKey: string;
  /** Every route registered, for the docs check (OpenAPI must list each one). */
  readonly routes: readonly { readonly method: string; readonly url: string; readonly hidden: boolean }[];
}

/** Paths of the API documentation, served without the API key so a newcomer can open it. */
export const DOCS_PATH = '/';
export const OPENAPI_PATH = '/openapi.json';

/**
 * Builds the server without listening: every route, the error mapping, the API key, the OpenAPI
 * document and Swagger UI. Closing `server` stops every engine (sessions stay marked as running, so
 * the next start resumes them); closing the storage is the caller's job.
 */
export async function buildApp(deps: AppDeps): Promise<App> {
  const { config, storage, logger } = deps;
  const sessions = createSessionManager({
    storage,
    engines: deps.engines,
    publisher: deps.publisher,
    logger,
    renewal: { ...DEFAULT_RENEWAL_POLICY, ratePerSecond: config.renewalRatePerSecond },
    startConcurrency: config.startConcurrency,
    ...(deps.sleep === undefined ? {} : { sleep: deps.sleep }),
    ...(deps.claim === undefined ? {} : { claim: deps.claim, serverId: config.serverId }),
    ...(deps.sharedStatuses === undefined ? {} : { sharedStatuses: deps.sharedStatuses }),
  });
  const apiKey = await resolveApiKey(config.apiKey, storage.settings, logger);

  const httpLogger: FastifyBaseLogger = logger.child({ area: 'http' });
  const server: FastifyInstance = Fastify({
    loggerInstance: httpLogger,
    // Fastify's validator silently drops fields a schema does not declare; a misspelt optional field
    // (`durationMS`) would then be ignored without a word. Refuse it with a 400 naming it instead. The
    // schemas declare WAHA's fields that we accept without using (`config.proxy`, …).
    ajv: { customOptions: { removeAdditional: false } },
    // One debug line per request (below) instead of Fastify's two info lines.
    logController: new LogController({ disableRequestLogging: true }),
  });

  // WAHA clients may send `Content-Type: application/json` with an empty body on body-less POSTs
  // (subscribe, start, …): treat it as no body instead of a 400.
  const parseJson = server.getDefaultJsonParser('error', 'error');
  server.removeContentTypeParser('application/json');
  server.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    // Fastify's default JSON parser is synchronous and reports through `done`.
    void parseJson(request, text, done);
  });

  const routes: { method: string; url: string; hidden: boolean }[] = [];
  server.addHook('onRoute', (route) => {
    const hidden = (route.schema as { hide?: unknown } | undefined)?.hide === true;
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, hidden });
  });
  registerErrorHandling(server);
  server.addHook('onResponse', async (request, reply) => {
    request.log.debug({ method: request.method, url: request.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  await server.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'wa-presence',
        version: SERVER_VERSION,
        description: 'WAHA-compatible WhatsApp HTTP API for presence. Send the API key as the X-Api-Key header (Authorize button).',
      },
      components: { securitySchemes: { api_key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
      security: [{ api_key: [] }],
      tags: [
        { name: 'presence', description: "Presence: set your own, read and subscribe to others'" },
        { name: 'sessions', description: 'Sessions: one WhatsApp account each' },
        { name: 'auth', description: 'Login by QR code or pairing code' },
        { name: 'webhooks', description: 'Webhook deliveries: what is pending, what failed, replay' },
        { name: 'health', description: 'Liveness' },
      ],
    },
  });
  await server.register(swaggerUi, { routePrefix: DOCS_PATH });
  // At the root, before the API-key hook: @fastify/websocket then sees every upgrade request first
  // and destroys the socket of one answered with plain HTTP (401, 404), which it would leak otherwise.
  // Client frames are ignored by our routes: a small frame limit keeps a client from making us buffer.
  await server.register(websocket, { options: { maxPayload: 4096 } });
  server.get(OPENAPI_PATH, { schema: { hide: true } }, () => Promise.resolve(server.swagger()));
  const network = config.sandbox.kind === 'off' ? 'whatsapp' : 'sandbox';
  healthRoutes(server, { network, storage: storage.backend });
  for (const register of deps.publicRoutes ?? []) await register(server);

  await server.register(async (scope) => {
    requireApiKey(scope, apiKey, config.apiKeyExcludePaths);
    // Every route behind the key documents its 401, whoever wrote it.
    scope.addHook('onRoute', (route) => {
      if (route.schema === undefined) return;
      const response = (route.schema.response ?? {}) as Record<string, unknown>;
      route.schema.response = { 401: ErrorSchema, ...response };
    });
    sessionRoutes(scope, { sessions, network });
    presenceRoutes(scope, { sessions });
    authRoutes(scope, { sessions });
    for (const register of deps.routes ?? []) await register(scope);
  });

  server.addHook('onClose', async () => {
    await sessions.shutdown();
  });
  await server.ready();
  return { server, sessions, apiKey, routes };
}
