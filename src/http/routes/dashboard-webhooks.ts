import { Type } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.js';
import { enqueueTestEvent } from '../../events/test-event.js';
import type { EventEnvironment } from '../../presence/events.js';
import type { OutboxStore } from '../../storage/outbox.js';
import type { SessionStore } from '../../storage/sessions.js';
import { systemClock } from '../../clock.js';
import type { Clock } from '../../clock.js';

export interface TestEventOptions {
  readonly outbox: OutboxStore;
  readonly sessions: SessionStore;
  /** This server's envelope `environment` (createEvents' `environment`). */
  readonly environment: EventEnvironment;
  /** Called after the enqueue, so the delivery worker sends it at once. */
  readonly wake: () => void;
  /** The server's clock (the event's time); the system's by default. */
  readonly clock?: Pick<Clock, 'now'>;
}

/**
 * `POST /dashboard/api/sessions/{session}/webhooks/test {url}`: sends a `webhook.test` event to one of
 * the session's webhooks through the outbox (see src/events/test-event.ts). Register inside the
 * API-key scope.
 */
export function dashboardTestEventRoute(scope: FastifyInstance, options: TestEventOptions): Promise<void> {
  scope.withTypeProvider<TypeBoxTypeProvider>().post(
    '/dashboard/api/sessions/:session/webhooks/test',
    {
      schema: {
        hide: true,
        params: Type.Object({ session: Type.String() }),
        body: Type.Object({ url: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      const { session } = request.params;
      const stored = await options.sessions.get(session);
      if (stored === null) throw new AppError('SESSION_NOT_FOUND', `session "${session}" does not exist`, { session });
      const webhook = (stored.config.webhooks ?? []).find((w) => w.url === request.body.url);
      if (webhook === undefined) {
        throw new AppError('VALIDATION_FAILED', `session "${session}" has no webhook ${request.body.url}: send the url of one of its config.webhooks`, { field: 'url' });
      }
      const eventId = await enqueueTestEvent(options.outbox, { session, me: stored.me, metadata: stored.config.metadata ?? null, webhook, environment: options.environment }, (options.clock ?? systemClock).now());
      options.wake();
      return reply.code(201).send({ eventId });
    },
  );
  return Promise.resolve();
}
