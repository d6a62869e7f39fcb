import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { RecentEvents } from '../../events/recent.js';
import { EVENT_NAMES } from '../../presence/events.js';

const Query = Type.Object(
  {
    after: Type.Optional(Type.String({ pattern: '^evt_[0-9A-Z]{26}$', description: 'Only events after this event id' })),
    session: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })),
    event: Type.Optional(Type.Enum([...EVENT_NAMES])),
    chat: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    limit: Type.Integer({ minimum: 1, maximum: 2000, default: 500 }),
  },
  { additionalProperties: false },
);

/**
 * `GET /dashboard/api/events`: the recent events this server carried (src/events/recent.ts), oldest
 * first, as the same envelopes `/ws` sends. `gap: true` says events older than the oldest kept one
 * were asked for and may be missing (the buffer dropped them). Register inside the API-key scope.
 */
export function dashboardEventsRoute(scope: FastifyInstance, recent: RecentEvents): Promise<void> {
  scope.withTypeProvider<TypeBoxTypeProvider>().get('/dashboard/api/events', { schema: { hide: true, querystring: Query } }, (request, reply) => {
    const { after, session, event, chat, limit } = request.query;
    const events = recent.list({ after: after ?? null, session: session ?? null, event: event ?? null, chat: chat ?? null, limit });
    const oldest = recent.oldestId();
    const gap = after !== undefined && oldest !== null && after < oldest;
    // The bodies are the envelopes' JSON already: spliced, not parsed and serialised again.
    return reply.header('content-type', 'application/json; charset=utf-8').send(`{"gap":${gap},"events":[${events.map((item) => item.body).join(',')}]}`);
  });
  return Promise.resolve();
}
