import { Type } from '@fastify/type-provider-typebox';
import type { TSchema } from '@fastify/type-provider-typebox';
import { EVENT_NAMES } from '../presence/events.js';
import type { EventName } from '../presence/events.js';
import { ENGINES } from '../presence/sessions.js';
import { ChatPresenceSchema, MeSchema, ParticipantPresenceSchema, SessionStatusSchema } from './schemas.js';

/**
 * The events we send, published in our OpenAPI document as WAHA publishes them: each envelope a
 * named schema in `components.schemas` (WAHA's names, so generated clients get WAHA's models) and
 * one entry per event in the document's `webhooks` (OpenAPI 3.1: the POST a receiver gets).
 */

const ref = (name: string): TSchema => Type.Unsafe({ $ref: `#/components/schemas/${name}` });

export const EnvironmentSchema = Type.Object(
  {
    version: Type.String({ examples: ['0.1.0'] }),
    engine: Type.String({ examples: ['NOWEB'] }),
    tier: Type.String({ description: 'CORE: wa-presence has none of WAHA Plus features', examples: ['CORE'] }),
    browser: Type.String({ description: 'NOWEB runs no browser: "none"', examples: ['none'] }),
    platform: Type.String({ examples: ['linux/x64'] }),
    worker: Type.Object({ id: Type.Union([Type.String(), Type.Null()], { description: 'The server that emitted or answers (WA_PRESENCE_SERVER_ID)' }) }),
  },
  { description: "WAHA's WAHAEnvironment: the server that emitted the event" },
);

const SessionStatusPointSchema = Type.Object({ status: SessionStatusSchema, timestamp: Type.Number({ description: 'Milliseconds since the epoch' }) });

const SessionStatusBodySchema = Type.Object({
  name: Type.String({ examples: ['default'] }),
  status: SessionStatusSchema,
  statuses: Type.Array(ref('SessionStatusPoint'), { description: 'The last three statuses, oldest first, the new one last (as WAHA)' }),
  reason: Type.Optional(Type.String({ description: 'Ours, not WAHA\'s: why, when nobody asked for it through the API (a lost connection, a logout from the phone, a ban)' })),
});

function envelope(event: EventName, payload: string, description: string): TSchema {
  return Type.Object(
    {
      id: Type.String({ description: 'Unique, sorts by creation time (evt_ + ULID): de-duplicate on it', examples: ['evt_01JCXYZ0000000000000000000'] }),
      timestamp: Type.Number({ description: 'Milliseconds since the epoch, when the event was created' }),
      event: Type.Literal(event),
      session: Type.String({ examples: ['default'] }),
      metadata: Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()], { description: "The session's config.metadata; null when it has none" }),
      me: Type.Union([ref('MeInfo'), Type.Null()], { description: 'The account; null before the first login' }),
      engine: Type.Enum([...ENGINES]),
      environment: ref('WAHAEnvironment'),
      payload: ref(payload),
    },
    { description },
  );
}

/** Envelope schema name by event (WAHA's names). */
const ENVELOPES: Readonly<Record<EventName, { readonly schema: string; readonly payload: string; readonly summary: string }>> = {
  'presence.update': { schema: 'WAHAWebhookPresenceUpdate', payload: 'WAHAChatPresences', summary: 'The most recent presence information for a chat.' },
  'session.status': { schema: 'WAHAWebhookSessionStatus', payload: 'WASessionStatusBody', summary: 'The event is triggered when the session status changes.' },
};

/** For `components.schemas` of our document. */
export function eventSchemas(): Record<string, TSchema> {
  const schemas: Record<string, TSchema> = {
    WAHAEnvironment: EnvironmentSchema,
    MeInfo: MeSchema,
    SessionStatusPoint: SessionStatusPointSchema,
    WASessionStatusBody: SessionStatusBodySchema,
    WAHAPresenceData: ParticipantPresenceSchema,
    WAHAChatPresences: ChatPresenceSchema,
  };
  for (const event of EVENT_NAMES) {
    const { schema, payload, summary } = ENVELOPES[event];
    schemas[schema] = envelope(event, payload, summary);
  }
  return schemas;
}

/** One entry of the document's `webhooks` (an OpenAPI 3.1 path item: the POST a receiver gets). */
interface WebhookItem {
  readonly post: {
    readonly summary: string;
    readonly requestBody: { readonly content: { readonly 'application/json': { readonly schema: { readonly $ref: string } } } };
    readonly responses: { readonly '200': { readonly description: string } };
  };
}

/** For the document's `webhooks`: what each webhook receiver is sent. */
export function eventWebhooks(): Record<string, WebhookItem> {
  return Object.fromEntries(
    EVENT_NAMES.map((event) => {
      const { schema, summary } = ENVELOPES[event];
      return [
        event,
        {
          post: {
            summary,
            requestBody: { content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } } },
            responses: { '200': { description: 'Return a 2xx status to say the event was received; anything else is retried per the webhook\'s retries' } },
          },
        },
      ];
    }),
  );
}
