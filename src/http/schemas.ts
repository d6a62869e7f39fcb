import { Type } from '@fastify/type-provider-typebox';
import { DEFAULT_RETRIES } from '../events/retry.js';
import { HISTORY_RETENTION_DAYS } from '../presence/history.js';
import { ENGINES, RETRY_POLICIES } from '../presence/sessions.js';
import { PRESENCE_STATUSES, SESSION_STATUSES } from '../presence/status.js';
import { FREE_FORM_LIMITS } from './keywords.js';

/** JSON schemas of WAHA's shapes, field for field; OpenAPI is generated from them. */

export const PresenceStatusSchema = Type.Enum([...PRESENCE_STATUSES], { description: "WAHA's WAHAPresenceStatus" });
export const SessionStatusSchema = Type.Enum([...SESSION_STATUSES]);

export const ParticipantPresenceSchema = Type.Object(
  {
    participant: Type.String({ examples: ['2132132130@c.us'] }),
    lastKnownPresence: PresenceStatusSchema,
    lastSeen: Type.Union([Type.Integer(), Type.Null()], { description: 'Unix seconds when last online; null when unknown or hidden' }),
    lastSeenHidden: Type.Optional(Type.Literal(true, { description: "Ours, not WAHA's: present when WhatsApp said this person hides their last seen (last seen \"nobody\"); absent when not hidden or not known" })),
  },
);

export const ChatPresenceSchema = Type.Object(
  {
    id: Type.String({ description: 'Chat id: <digits>@c.us, <id>@g.us or <digits>@lid', examples: ['2132132130@c.us'] }),
    presences: Type.Array(ParticipantPresenceSchema),
  },
);

/** Ours, not WAHA's: what `GET /api/{session}/presence/subscriptions` lists. */
export const SubscriptionSchema = Type.Object({
  chatId: Type.String({ examples: ['2132132130@c.us'] }),
  since: Type.Union([Type.Integer(), Type.Null()], {
    description: 'Milliseconds since the epoch when the chat was subscribed; null for subscriptions stored before wa-presence recorded the time',
  }),
});

/** Ours, not WAHA's: the answer of `DELETE /api/{session}/presence/{chatId}/subscribe`. */
export const UnsubscribeResultSchema = Type.Object({
  chatId: Type.String({ description: 'The chat id, normalised', examples: ['2132132130@c.us'] }),
  subscribed: Type.Literal(false),
  removed: Type.Boolean({ description: 'false when the chat was not subscribed (nothing to remove; not an error)' }),
});

const DurationMs = Type.Integer({
  minimum: 1,
  maximum: 600_000,
  description: 'Extension of wa-presence: keep typing/recording for this long (ms), then send paused. The request returns at once.',
});

export const SetPresenceBodySchema = Type.Object(
  {
    presence: PresenceStatusSchema,
    chatId: Type.Optional(Type.String({ description: 'Required for typing, recording, paused; not allowed for online, offline', examples: ['111111111@c.us'] })),
    durationMs: Type.Optional(DurationMs),
  },
  { additionalProperties: false },
);

export const TypingBodySchema = Type.Object(
  {
    session: Type.String({ examples: ['default'] }),
    chatId: Type.String({ examples: ['111111111@c.us'] }),
    durationMs: Type.Optional(DurationMs),
  },
  { additionalProperties: false },
);

export const ResultSchema = Type.Object({ result: Type.Boolean() });

export const WebhookConfigSchema = Type.Object(
  {
    url: Type.String({ description: 'http or https URL', examples: ['https://example.com/webhook'] }),
    events: Type.Array(Type.String(), { description: 'Event names, or "*" for all', examples: [['presence.update', 'session.status']] }),
    hmac: Type.Optional(
      Type.Union([Type.Object({ key: Type.Optional(Type.String({ description: 'Without a key (or empty), nothing is signed, as in WAHA' })) }, { additionalProperties: false }), Type.Null()]),
    ),
    retries: Type.Optional(
      Type.Union([
        Type.Object(
          {
            policy: Type.Optional(Type.Enum([...RETRY_POLICIES], { description: `Default ${DEFAULT_RETRIES.policy}` })),
            delaySeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600, description: `Default ${DEFAULT_RETRIES.delaySeconds}` })),
            attempts: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: `Default ${DEFAULT_RETRIES.attempts}` })),
          },
          { additionalProperties: false, description: "A field left out takes WAHA's default" },
        ),
        Type.Null(),
      ]),
    ),
    customHeaders: Type.Optional(
      Type.Union([Type.Array(Type.Object({ name: Type.String({ minLength: 1 }), value: Type.String() }), { 'x-custom-headers': true }), Type.Null()], {
        description: 'Extra request headers: names are HTTP tokens, values have no CR, LF or NUL; Host, Content-Length, Transfer-Encoding, Connection, Content-Type and X-Webhook-* are set by the delivery and refused here',
      }),
    ),
  },
  { additionalProperties: false },
);

/**
 * WAHA's config has fields a presence server has no use for. WAHA clients send them, so they are
 * accepted (and kept, so a GET shows what was sent); any other field is refused with a 400.
 */
const WAHA_ONLY = 'Accepted and kept for WAHA clients; wa-presence does not use it';

/** Free-form parts are bounded (`x-free-form`, src/http/keywords.ts): a value nested thousands of levels deep would overflow the stack of what walks it. */
const FREE_FORM = `Free-form, ${FREE_FORM_LIMITS}`;

export const SessionConfigSchema = Type.Object(
  {
    webhooks: Type.Optional(Type.Array(WebhookConfigSchema)),
    metadata: Type.Optional(Type.Record(Type.String(), Type.String())),
    debug: Type.Optional(Type.Boolean()),
    noweb: Type.Optional(
      Type.Object(
        {
          markOnline: Type.Optional(
            Type.Boolean({ description: 'Send "online" when connected (default true): needed to receive presence, but the phone gets no notifications meanwhile' }),
          ),
          store: Type.Optional(Type.Object({ enabled: Type.Optional(Type.Boolean()), fullSync: Type.Optional(Type.Boolean()) }, { additionalProperties: false, description: WAHA_ONLY })),
        },
        { additionalProperties: false },
      ),
    ),
    sandbox: Type.Optional(
      Type.Object(
        {
          autoPair: Type.Optional(
            Type.Boolean({ description: 'false: the sandbox does not scan this session\'s QR by itself, so it waits for a scan or a pairing code (default: WA_PRESENCE_SANDBOX_AUTOPAIR)' }),
          ),
        },
        { additionalProperties: false, description: 'Only on a server on the sandbox network (ours, not WAHA\'s)' },
      ),
    ),
    presenceHistory: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean({ description: 'Record this session\'s presence history (default: WA_PRESENCE_HISTORY)' })),
          retentionDays: Type.Optional(
            Type.Integer({ minimum: HISTORY_RETENTION_DAYS.min, maximum: HISTORY_RETENTION_DAYS.max, description: 'Days kept (default: WA_PRESENCE_HISTORY_RETENTION_DAYS)' }),
          ),
        },
        { additionalProperties: false, description: 'Presence history (ours, not WAHA\'s): who was online when, kept for retentionDays' },
      ),
    ),
    proxy: Type.Optional(
      Type.Union(
        [Type.Object({ server: Type.String(), username: Type.Optional(Type.String()), password: Type.Optional(Type.String()) }, { additionalProperties: false }), Type.Null()],
        { description: WAHA_ONLY },
      ),
    ),
    ignore: Type.Optional(
      Type.Object(
        { status: Type.Optional(Type.Boolean()), groups: Type.Optional(Type.Boolean()), channels: Type.Optional(Type.Boolean()), broadcast: Type.Optional(Type.Boolean()) },
        { additionalProperties: false, description: WAHA_ONLY },
      ),
    ),
    client: Type.Optional(
      Type.Object({ deviceName: Type.Optional(Type.String()), browserName: Type.Optional(Type.String()) }, { additionalProperties: false, description: WAHA_ONLY }),
    ),
    // WAHA's other engines' settings: their known fields declared, newer ones kept too (they evolve with WAHA).
    webjs: Type.Optional(
      Type.Union([Type.Object({ tagsEventsOn: Type.Optional(Type.Boolean()) }, { additionalProperties: true, 'x-free-form': true }), Type.Null()], {
        description: `WAHA's WEBJS engine settings. ${WAHA_ONLY}. ${FREE_FORM}`,
      }),
    ),
    gows: Type.Optional(
      Type.Union(
        [
          Type.Object(
            {
              storage: Type.Optional(
                Type.Object(
                  { messages: Type.Optional(Type.Boolean()), groups: Type.Optional(Type.Boolean()), chats: Type.Optional(Type.Boolean()), labels: Type.Optional(Type.Boolean()) },
                  { additionalProperties: true },
                ),
              ),
            },
            { additionalProperties: true, 'x-free-form': true },
          ),
          Type.Null(),
        ],
        { description: `WAHA's GOWS engine settings. ${WAHA_ONLY}. ${FREE_FORM}` },
      ),
    ),
  },
  { additionalProperties: false },
);

export const MeSchema = Type.Object(
  {
    id: Type.String({ examples: ['11111111111@c.us'] }),
    pushName: Type.Union([Type.String(), Type.Null()]),
    lid: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    jid: Type.Optional(Type.String({ description: 'Your id with the device number', examples: ['11111111111:12@s.whatsapp.net'] })),
  },
);

export const SessionInfoSchema = Type.Object(
  {
    name: Type.String({ examples: ['default'] }),
    status: SessionStatusSchema,
    config: SessionConfigSchema,
    me: Type.Union([MeSchema, Type.Null()]),
    engine: Type.Object({ engine: Type.Enum([...ENGINES]) }),
    presence: Type.Object(
      { status: Type.Union([Type.Enum(['online', 'offline']), Type.Null()], { description: "The session's own global presence as last sent; null when not known" }) },
      { description: "WAHA's required `presence` (an object in WAHA's document)" },
    ),
    timestamps: Type.Object({
      activity: Type.Union([Type.Number(), Type.Null()], { description: 'Milliseconds since the epoch of the last activity; null when not known' }),
    }),
    worker: Type.Optional(Type.String({ description: 'Several servers: the server (WA_PRESENCE_SERVER_ID) that runs the session' })),
    reason: Type.Optional(Type.String({ description: 'Why the session reached this status when nobody asked for it through the API (FAILED, or STOPPED by WhatsApp): what happened and what to do' })),
  },
);

const AppsSchema = Type.Union([Type.Array(Type.Unknown(), { 'x-free-form': true }), Type.Null()], {
  description: "WAHA's apps (ChatWoot, calls, MCP): wa-presence runs none, so only an empty list or null is accepted",
});

export const CreateSessionBodySchema = Type.Object(
  {
    name: Type.Optional(Type.String({ description: 'Letters, digits, _ and -; when omitted "default", or a generated session_<hex> name when "default" exists (as WAHA)', examples: ['default'] })),
    start: Type.Optional(Type.Boolean({ description: 'Start right away (default true)' })),
    config: Type.Optional(SessionConfigSchema),
    apps: Type.Optional(AppsSchema),
  },
  { additionalProperties: false },
);

export const UpdateSessionBodySchema = Type.Object(
  {
    config: Type.Optional(SessionConfigSchema),
    apps: Type.Optional(AppsSchema),
  },
  { additionalProperties: false, description: 'Without config the session keeps its config (and is not restarted)' },
);

export const SessionParamsSchema = Type.Object({ session: Type.String({ examples: ['default'] }) });
export const ChatParamsSchema = Type.Object({ session: Type.String({ examples: ['default'] }), chatId: Type.String({ examples: ['2132132130@c.us'] }) });

export const ErrorSchema = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String({ description: 'Stable error code (see the README)' }),
    error: Type.String(),
    message: Type.String(),
  },
  { additionalProperties: true },
);

/** Error responses a route may give, by status (401 is added to every route behind the API key by the app). */
export function errors(...statuses: readonly (400 | 404 | 409 | 422 | 502)[]): Record<number, typeof ErrorSchema> {
  return Object.fromEntries(statuses.map((status) => [status, ErrorSchema]));
}
