import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.js';
import type { OutboxStore } from '../../storage/outbox.js';
import { DELIVERY_STATUSES } from '../../storage/outbox.js';
import type { SessionStore } from '../../storage/sessions.js';
import { systemClock } from '../../clock.js';
import type { Clock } from '../../clock.js';

export interface DeliveriesRoutesOptions {
  readonly outbox: OutboxStore;
  readonly sessions: SessionStore;
  /** Called after a replay, so the worker sends it at once. */
  readonly wake: () => void;
  readonly clock?: Pick<Clock, 'now'>;
}

const Params = Type.Object({ session: Type.String({ examples: ['default'] }) });
const ReplayParams = Type.Object({ session: Type.String({ examples: ['default'] }), id: Type.Integer({ minimum: 1 }) });
const Query = Type.Object(
  {
    status: Type.Optional(Type.Enum([...DELIVERY_STATUSES], { description: 'Only deliveries in this state' })),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
    before: Type.Optional(Type.Integer({ minimum: 1, description: 'Page: only deliveries with a lower id (the last id of the previous page)' })),
  },
  { additionalProperties: false },
);
const Timestamp = Type.Union([Type.Integer(), Type.Null()], { description: 'Milliseconds since the epoch' });
const Delivery = Type.Object({
  id: Type.Integer(),
  eventId: Type.String(),
  event: Type.String({ examples: ['presence.update'] }),
  url: Type.String(),
  status: Type.Enum([...DELIVERY_STATUSES]),
  attempts: Type.Integer(),
  lastError: Type.Union([Type.String(), Type.Null()]),
  lastStatus: Type.Union([Type.Integer(), Type.Null()], { description: 'HTTP status of the last answer' }),
  nextAttemptAt: Timestamp,
  createdAt: Type.Integer(),
  updatedAt: Type.Integer(),
  deliveredAt: Timestamp,
});

/**
 * The operator's view of the webhook outbox: what is pending, what failed and why, and a replay.
 * Register inside the API-key scope.
 */
export function deliveriesRoutes(options: DeliveriesRoutesOptions): (scope: FastifyInstance) => Promise<void> {
  const clock = options.clock ?? systemClock;
  async function requireSession(name: string): Promise<void> {
    if ((await options.sessions.get(name)) === null) {
      throw new AppError('SESSION_NOT_FOUND', `session "${name}" does not exist`, { session: name });
    }
  }
  return (scope) => {
    const app = scope.withTypeProvider<TypeBoxTypeProvider>();
    app.get(
      '/api/:session/webhooks/deliveries',
      {
        schema: {
          tags: ['webhooks'],
          summary: "The session's webhook deliveries, newest first: pending, failed (with the last error), delivered, dropped",
          params: Params,
          querystring: Query,
          response: { 200: Type.Array(Delivery) },
        },
      },
      async (request) => {
        await requireSession(request.params.session);
        const { status, limit, before } = request.query;
        const records = await options.outbox.list(request.params.session, { status: status ?? null, limit, before: before ?? null });
        return records.map((record) => ({ ...record }));
      },
    );

    app.post(
      '/api/:session/webhooks/deliveries/:id/replay',
      {
        schema: {
          tags: ['webhooks'],
          summary: 'Send a failed, dropped or delivered delivery again (as a new delivery, after the pending ones of its chat)',
          params: ReplayParams,
          response: { 201: Type.Object({ id: Type.Integer({ description: 'The new delivery' }) }) },
        },
      },
      async (request, reply) => {
        const { session, id } = request.params;
        await requireSession(session);
        const result = await options.outbox.replay(session, id, clock.now());
        switch (result.kind) {
          case 'not-found':
            throw new AppError('NOT_FOUND', `session "${session}" has no webhook delivery ${id}`, { session, id });
          case 'pending':
            throw new AppError('VALIDATION_FAILED', `delivery ${id} is still pending: it is sent (or retried) already; replay a failed, dropped or delivered one`, {
              field: 'id',
            });
          case 'cancelled':
            throw new AppError('VALIDATION_FAILED', `delivery ${id} was cancelled when its session was deleted (a session of the same name made later does not own it); it is not sent again`, {
              field: 'id',
            });
          case 'replayed':
            options.wake();
            return reply.code(201).send({ id: result.id });
        }
      },
    );
    return Promise.resolve();
  };
}
