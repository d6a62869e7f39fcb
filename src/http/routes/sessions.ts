import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { Static } from '@fastify/type-provider-typebox';
import { AppError, isAppError } from '../../errors.js';
import type { SessionConfig, SessionInfo } from '../../presence/sessions.js';
import type { SessionManager } from '../../sessions/manager.js';
import { CreateSessionBodySchema, MeSchema, SessionInfoSchema, SessionParamsSchema, UpdateSessionBodySchema, errors } from '../schemas.js';
import { assertNoApps, configWithDefaults, dropNullFields, emptyBodyAsObject, generatedSessionName, wahaSessionInfo } from '../waha.js';

export interface SessionRoutesOptions {
  readonly sessions: SessionManager;
  /** Which network this server serves: `config.sandbox` means something only on the sandbox. */
  readonly network: 'whatsapp' | 'sandbox';
}

/**
 * The request body's config as the domain's type. Under `exactOptionalPropertyTypes` the schema's
 * static type (`T | undefined` optionals) differs from the domain's; the validated value is the same.
 */
function configOf(config: unknown, network: SessionRoutesOptions['network']): SessionConfig {
  const typed = configWithDefaults(config as Parameters<typeof configWithDefaults>[0]);
  if (typed.sandbox !== undefined && network !== 'sandbox') {
    throw new AppError('VALIDATION_FAILED', 'config.sandbox applies only to a server on the sandbox network (--sandbox or WA_PRESENCE_SANDBOX); this one serves the real WhatsApp, so remove it', {
      field: 'config.sandbox',
    });
  }
  return typed;
}

type SessionJson = Static<typeof SessionInfoSchema>;

/** WAHA's session info (see `wahaSessionInfo`); the cast: the domain's types are deeply read-only, the schema's static type is not. */
function toJson(info: SessionInfo): SessionJson {
  return wahaSessionInfo(info) as SessionJson;
}

/** Tries of a generated name before giving up (8 hex digits: a clash is already unlikely). */
const NAME_TRIES = 5;

/** WAHA's session routes, same paths and shapes. */
export function sessionRoutes(server: FastifyInstance, { sessions, network }: SessionRoutesOptions): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['sessions'];
  const SessionResponse = { 200: SessionInfoSchema, 201: SessionInfoSchema, ...errors(404, 502) };

  app.get(
    '/api/sessions',
    {
      schema: {
        tags,
        summary: 'List sessions (STOPPED ones only with all=true)',
        querystring: Type.Object({ all: Type.Optional(Type.Boolean({ description: 'Include STOPPED sessions' })) }),
        response: { 200: Type.Array(SessionInfoSchema), ...errors() },
      },
    },
    async (request) => (await sessions.list(request.query.all === true)).map(toJson),
  );

  app.post(
    '/api/sessions',
    {
      schema: {
        tags,
        summary: 'Create a session (and start it unless start is false)',
        body: CreateSessionBodySchema,
        response: { 201: SessionInfoSchema, ...errors(400, 409, 502) },
      },
      // Every field is optional, so is the body: `POST /api/sessions` alone creates "default".
      preValidation: [dropNullFields, emptyBodyAsObject],
    },
    async (request, reply) => {
      const body = request.body;
      assertNoApps(body.apps ?? undefined);
      const input = {
        ...(body.start === undefined ? {} : { start: body.start }),
        ...(body.config === undefined ? {} : { config: configOf(body.config, network) }),
      };
      if (body.name !== undefined) return reply.code(201).send(toJson(await sessions.create({ ...input, name: body.name })));
      // No name: "default", or, when it exists, a generated one (as WAHA does).
      for (let attempt = 0; ; attempt += 1) {
        const name = attempt === 0 ? 'default' : generatedSessionName();
        try {
          return reply.code(201).send(toJson(await sessions.create({ ...input, name })));
        } catch (error) {
          if (!isAppError(error) || error.code !== 'SESSION_EXISTS' || attempt >= NAME_TRIES) throw error;
        }
      }
    },
  );

  app.get(
    '/api/sessions/:session',
    { schema: { tags, summary: 'Get a session', params: SessionParamsSchema, response: { 200: SessionInfoSchema, ...errors(404) } } },
    async (request) => toJson(await sessions.get(request.params.session)),
  );

  app.put(
    '/api/sessions/:session',
    {
      schema: {
        tags,
        summary: 'Replace the config of a session; a running session restarts to apply it. Without config, nothing changes',
        params: SessionParamsSchema,
        body: UpdateSessionBodySchema,
        response: { 200: SessionInfoSchema, ...errors(400, 404, 502) },
      },
      preValidation: [dropNullFields, emptyBodyAsObject],
    },
    async (request) => {
      const { config, apps } = request.body;
      assertNoApps(apps ?? undefined);
      const name = request.params.session;
      return toJson(config === undefined ? await sessions.get(name) : await sessions.update(name, configOf(config, network)));
    },
  );

  app.delete(
    '/api/sessions/:session',
    {
      schema: {
        tags,
        summary: 'Stop and delete a session with its credentials, presence and subscriptions; idempotent (an unknown session answers 200 too, as WAHA)',
        params: SessionParamsSchema,
        response: { 200: Type.Null(), ...errors(400) },
      },
    },
    async (request, reply) => {
      try {
        await sessions.delete(request.params.session);
      } catch (error) {
        // WAHA documents the delete as idempotent: a session already gone is what the client wants.
        if (!isAppError(error) || error.code !== 'SESSION_NOT_FOUND') throw error;
      }
      return reply.code(200).send(null);
    },
  );

  const actions = {
    start: { run: (name: string) => sessions.start(name), summary: 'Start a session (resumes from stored credentials)' },
    stop: { run: (name: string) => sessions.stop(name), summary: 'Stop a session (credentials are kept)' },
    restart: { run: (name: string) => sessions.restart(name), summary: 'Stop and start a session' },
    logout: { run: (name: string) => sessions.logout(name), summary: 'Unlink the device and forget its credentials, presence and subscriptions; the session stays STOPPED until started again (for a new QR)' },
  } as const;
  for (const [action, { run, summary }] of Object.entries(actions)) {
    app.post(
      `/api/sessions/:session/${action}`,
      { schema: { tags, summary, params: SessionParamsSchema, response: { 201: SessionResponse[201], ...errors(404, 502) } } },
      async (request, reply) => reply.code(201).send(toJson(await run(request.params.session))),
    );
  }

  app.get(
    '/api/sessions/:session/me',
    {
      schema: {
        tags,
        summary: 'The account the session is logged in as (null before the first login)',
        params: SessionParamsSchema,
        response: { 200: Type.Union([MeSchema, Type.Null()]), ...errors(404) },
      },
    },
    async (request) => {
      const me = await sessions.me(request.params.session);
      return me === null ? null : { ...me };
    },
  );
}
