import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import { wahaEnvironment } from '../../events/environment.js';
import { SERVER_VERSION } from '../../events/envelope.js';
import { EnvironmentSchema } from '../event-schemas.js';
import { systemClock } from '../../clock.js';
import type { Clock } from '../../clock.js';

/** Where WAHA serves its OpenAPI document too, and where SDK generators fetch it. */
export const WAHA_OPENAPI_PATH = '/-json';


export interface ServerRoutesOptions {
  readonly serverId: string;
  /** When the server started (ms since the epoch). */
  readonly startedAt: number;
  readonly clock?: Pick<Clock, 'now'>;
}

/**
 * WAHA's open routes: `GET /ping` and the OpenAPI document at `/-json`. Register at the root,
 * outside the API key, as WAHA serves them.
 */
export function serverOpenRoutes(server: FastifyInstance): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/ping',
    {
      schema: {
        tags: ['health'],
        summary: 'Whether the server answers (WAHA\'s ping; no API key needed)',
        security: [],
        response: { 200: Type.Object({ message: Type.Literal('pong') }) },
      },
    },
    () => Promise.resolve({ message: 'pong' as const }),
  );
  server.get(WAHA_OPENAPI_PATH, { schema: { hide: true } }, () => Promise.resolve(server.swagger()));
}

/** WAHA's `GET /api/server/version`, its older `GET /api/version`, and `GET /api/server/status`: behind the API key, as in WAHA. */
export function serverRoutes(server: FastifyInstance, { serverId, startedAt, clock = systemClock }: ServerRoutesOptions): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['health'];
  for (const [url, summary] of [
    ['/api/server/version', 'Version, engine and where the server runs (WAHA\'s WAHAEnvironment)'],
    ['/api/version', 'The same as GET /api/server/version (WAHA keeps it for older clients)'],
  ] as const) {
    app.get(url, { schema: { tags, summary, response: { 200: EnvironmentSchema } } }, () =>
      Promise.resolve(wahaEnvironment(SERVER_VERSION, serverId)),
    );
  }
  app.get(
    '/api/server/status',
    {
      schema: {
        tags,
        summary: 'When the server started, its uptime, and its id (WAHA\'s ServerStatusResponse)',
        response: {
          200: Type.Object({
            startTimestamp: Type.Number({ description: 'Milliseconds since the epoch' }),
            uptime: Type.Number({ description: 'Milliseconds' }),
            worker: Type.Object({ id: Type.String() }),
          }),
        },
      },
    },
    () => Promise.resolve({ startTimestamp: startedAt, uptime: Math.max(0, clock.now() - startedAt), worker: { id: serverId } }),
  );
}
