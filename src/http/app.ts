import { deferringLogger } from './deferred-logger.js';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import swagger from '@fastify/swagger';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { SERVER_VERSION } from '../events/envelope.js';
import type { SessionManager } from '../sessions/manager.js';
import type { Storage } from '../storage/index.js';
import { requireApiKey, resolveApiKey } from './api-key.js';
import { registerDocsUi } from './docs.js';
import { registerErrorHandling } from './errors.js';
import { redactingLogger } from './redact.js';
import { httpServerOptions, registerBodyParsing } from './server-options.js';
import { ErrorSchema } from './schemas.js';
import { authRoutes } from './routes/auth.js';
import { healthRoutes } from './routes/health.js';
import { presenceRoutes } from './routes/presence.js';
import { sessionRoutes } from './routes/sessions.js';
import { serverOpenRoutes, serverRoutes } from './routes/server.js';
import { registerRequestLogging, requestId } from './request-log.js';
import type { Readiness } from '../metrics/readiness.js';
import { historyRoutes } from './routes/history.js';
import type { HistoryRecorder } from '../sessions/history-recorder.js';
import { eventSchemas, eventWebhooks } from './event-schemas.js';

const DEBUG_LEVELS: ReadonlySet<string> = new Set(['debug', 'trace']);

/** Registers more routes behind the API key (the WebSocket, deliveries, the sandbox admin API). */
export type RouteRegistrar = (scope: FastifyInstance) => Promise<void>;

export interface HttpDeps {
  readonly config: Config;
  readonly storage: Pick<Storage, 'settings' | 'backend' | 'history' | 'sessions'>;
  readonly sessions: SessionManager;
  readonly logger: Logger;
  /** Registered inside the API-key scope, after the core routes, in this order. */
  readonly routes?: readonly RouteRegistrar[];
  /** Presence history: its routes are served when given. */
  readonly history?: HistoryRecorder;
  /** Runs when the server closes, after it stopped accepting requests (the composition root stops the engines there). */
  readonly onClose?: () => Promise<void>;
  /** The server's clock (uptime, the history routes' default range). */
  readonly clock?: Clock;
  /** `GET /health/ready` (src/metrics/readiness.ts). */
  readonly readiness?: Readiness;
  /** Registered outside the API-key scope (the dashboard's shell and assets). */
  readonly publicRoutes?: readonly RouteRegistrar[];
}

export interface Http {
  readonly server: FastifyInstance;
  /** The key clients send as X-Api-Key (configured or generated). */
  readonly apiKey: string;
  /** Every route registered, for the docs check (OpenAPI must list each one). */
  readonly routes: readonly { readonly method: string; readonly url: string; readonly hidden: boolean }[];
}

/** Paths of the API documentation, served without the API key so a newcomer can open it. */
export const DOCS_PATH = '/';
export const OPENAPI_PATH = '/openapi.json';

/**
 * The HTTP side without listening: Fastify and its options, content types, the error mapping, the
 * API key, the OpenAPI document and Swagger UI, and every route in its order. The object graph
 * behind it (sessions, events, cluster) is built by src/server.ts.
 */
export async function buildHttp(deps: HttpDeps): Promise<Http> {
  const { config, storage, logger, sessions } = deps;
  const apiKey = await resolveApiKey(config.apiKey, storage.settings, logger);

  const httpLogger: FastifyBaseLogger = redactingLogger(logger.child({ area: 'http' }));
  const server: FastifyInstance = Fastify({
    // Each request's logger becomes a pino child only once written to (src/http/deferred-logger.ts).
    loggerInstance: deferringLogger(httpLogger),
    // Fastify's validator silently drops fields a schema does not declare; a misspelt optional field
    // (`durationMS`) would then be ignored without a word. Refuse it with a 400 naming it instead. The
    // schemas declare WAHA's fields that we accept without using (`config.proxy`, …).
    ajv: { customOptions: { removeAdditional: false } },
    // One debug line per request (below) instead of Fastify's two info lines.
    logController: new LogController({ disableRequestLogging: true }),
    ...httpServerOptions(config.http),
    genReqId: requestId,
  });
  registerRequestLogging(server);

  registerBodyParsing(server);

  const routes: { method: string; url: string; hidden: boolean }[] = [];
  server.addHook('onRoute', (route) => {
    const hidden = (route.schema as { hide?: unknown } | undefined)?.hide === true;
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, hidden });
  });
  registerErrorHandling(server);
  // Callback-style hooks on the request path: an async hook costs a promise per request, which
  // bench/reads.ts sees beside a bare route.
  // The log level is the configuration's, fixed for the process: below debug no request pays for
  // this hook at all.
  if (DEBUG_LEVELS.has(httpLogger.level)) {
    server.addHook('onResponse', (request, reply, done) => {
      request.log.debug({ method: request.method, url: request.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
      done();
    });
  }

  await server.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'wa-presence',
        version: SERVER_VERSION,
        description: 'WAHA-compatible WhatsApp HTTP API for presence. Send the API key as the X-Api-Key header (Authorize button).',
      },
      components: { securitySchemes: { api_key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } }, schemas: eventSchemas() },
      // The events a webhook receiver gets, as WAHA's document lists them (issue 12).
      webhooks: eventWebhooks(),
      security: [{ api_key: [] }],
      tags: [
        { name: 'presence', description: "Presence: set your own, read and subscribe to others'" },
        { name: 'sessions', description: 'Sessions: one WhatsApp account each' },
        { name: 'auth', description: 'Login by QR code or pairing code' },
        { name: 'webhooks', description: 'Webhook deliveries: what is pending, what failed, replay' },
        { name: 'health', description: 'Liveness' },
        { name: 'sandbox', description: 'Sandbox network (with --sandbox only): contacts, groups, scanning, accounts' },
      ],
    },
  });
  await registerDocsUi(server, DOCS_PATH);
  server.get(OPENAPI_PATH, { schema: { hide: true } }, () => Promise.resolve(server.swagger()));
  const network = config.sandbox.kind === 'off' ? 'whatsapp' : 'sandbox';
  healthRoutes(server, { network, storage: storage.backend, ...(deps.readiness === undefined ? {} : { readiness: deps.readiness }) });
  serverOpenRoutes(server);
  const clock = deps.clock ?? systemClock;
  const startedAt = clock.now();
  for (const register of deps.publicRoutes ?? []) await register(server);

  await server.register(async (scope) => {
    requireApiKey(scope, apiKey, config.apiKeyExcludePaths, clock);
    // Every route behind the key documents its 401, whoever wrote it.
    scope.addHook('onRoute', (route) => {
      if (route.schema === undefined) return;
      const response = (route.schema.response ?? {}) as Record<string, unknown>;
      route.schema.response = { 401: ErrorSchema, ...response };
    });
    sessionRoutes(scope, { sessions, network });
    presenceRoutes(scope, { sessions });
    authRoutes(scope, { sessions });
    serverRoutes(scope, { serverId: config.serverId, startedAt, clock });
    if (deps.history !== undefined) historyRoutes(scope, { store: storage.history, sessions: storage.sessions, recorder: deps.history, clock });
    for (const register of deps.routes ?? []) await register(scope);
  });

  const onClose = deps.onClose;
  if (onClose !== undefined) server.addHook('onClose', onClose);
  await server.ready();
  return { server, apiKey, routes };
}
