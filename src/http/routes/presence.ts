import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import { AppError } from '../../errors.js';
import { parseChatId, parseRequestedChatId } from '../../presence/ids.js';
import { isChatPresence, isGlobalPresence } from '../../presence/status.js';
import type { ChatPresence, ParticipantPresence } from '../../presence/types.js';
import type { SessionManager } from '../../sessions/manager.js';
import {
  ChatParamsSchema,
  ChatPresenceSchema,
  ResultSchema,
  SessionParamsSchema,
  SetPresenceBodySchema,
  SubscriptionSchema,
  TypingBodySchema,
  UnsubscribeResultSchema,
  errors,
} from '../schemas.js';
import { dropNullFields, whenWorking } from '../waha.js';

export interface PresenceRoutesOptions {
  readonly sessions: SessionManager;
}

/**
 * The normalised chat id, or INVALID_CHAT_ID saying which forms are expected. `stored`: any id the
 * session may hold already (removing a subscription made before phone numbers were checked).
 */
export function chatIdOf(raw: string, field = 'chatId', accept: 'requested' | 'stored' = 'requested'): string {
  const result = accept === 'requested' ? parseRequestedChatId(raw) : parseChatId(raw);
  if (!result.ok) throw new AppError('INVALID_CHAT_ID', result.message, { field });
  return result.chatId.id;
}

type ChatPresenceJson = { id: string; presences: ParticipantPresence[] };

/**
 * The domain's read-only values as the mutable shape the response schema's type asks for, without
 * copying them: the schema's serializer only reads them (and they may be the session's cache).
 */
function asJson(chat: ChatPresence): ChatPresenceJson;
function asJson(chats: readonly ChatPresence[]): ChatPresenceJson[];
function asJson(value: ChatPresence | readonly ChatPresence[]): ChatPresenceJson | ChatPresenceJson[] {
  return value as ChatPresenceJson | ChatPresenceJson[];
}

/** WAHA's presence routes, same paths and shapes, and our two for managing subscriptions. */
export function presenceRoutes(server: FastifyInstance, { sessions }: PresenceRoutesOptions): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/api/:session/presence',
    {
      schema: {
        tags: ['presence'],
        summary: 'Set the global presence (online, offline) or a chat presence (typing, recording, paused)',
        params: SessionParamsSchema,
        body: SetPresenceBodySchema,
        response: { 201: Type.Null(), ...errors(400, 404, 422, 502) },
      },
      // Generated WAHA clients send `chatId: null` with online/offline.
      preValidation: dropNullFields,
    },
    async (request, reply) => {
      const { presence, chatId, durationMs } = request.body;
      if (isGlobalPresence(presence)) {
        if (chatId !== undefined) {
          throw new AppError('INVALID_PRESENCE', `presence "${presence}" works on the global scope and doesn't require 'chatId'; remove chatId`, {
            field: 'chatId',
          });
        }
        if (durationMs !== undefined) {
          throw new AppError('INVALID_PRESENCE', `durationMs applies to typing and recording only, not to "${presence}"`, { field: 'durationMs' });
        }
        await whenWorking(() => sessions.setPresence(request.params.session, presence));
      } else if (isChatPresence(presence)) {
        if (chatId === undefined) {
          throw new AppError('INVALID_PRESENCE', `presence "${presence}" requires 'chatId' (the chat to show it in)`, { field: 'chatId' });
        }
        if (durationMs !== undefined && presence === 'paused') {
          throw new AppError('INVALID_PRESENCE', 'durationMs applies to typing and recording only, not to "paused"', { field: 'durationMs' });
        }
        const id = chatIdOf(chatId);
        await whenWorking(() => sessions.setChatPresence(request.params.session, id, presence, durationMs === undefined ? {} : { durationMs }));
      }
      return reply.code(201).send(null);
    },
  );

  app.get(
    '/api/:session/presence',
    {
      schema: {
        tags: ['presence'],
        summary: 'Presence of every chat the session knows, contacts and groups',
        params: SessionParamsSchema,
        response: { 200: Type.Array(ChatPresenceSchema), ...errors(404, 422) },
      },
    },
    (request) => {
      // From memory without a promise when it is there (the common read); else the full path.
      const known = sessions.knownPresenceList(request.params.session);
      return known === undefined ? whenWorking(() => sessions.listPresence(request.params.session)).then((chats) => asJson(chats)) : asJson(known);
    },
  );

  // Ours, not WAHA's. A static segment: Fastify's router prefers it to `/presence/:chatId` below,
  // whatever the order of registration (test/http/presence.test.ts checks it).
  app.get(
    '/api/:session/presence/subscriptions',
    {
      schema: {
        tags: ['presence'],
        summary: 'Chats the session is subscribed to, renewed after every reconnect (ours, not WAHA\'s); in any session status',
        params: SessionParamsSchema,
        response: { 200: Type.Array(SubscriptionSchema), ...errors(404) },
      },
    },
    async (request) => sessions.listSubscriptions(request.params.session),
  );

  app.get(
    '/api/:session/presence/:chatId',
    {
      schema: {
        tags: ['presence'],
        summary: 'Presence of one chat (one entry per participant seen); subscribes to the chat first when needed',
        params: ChatParamsSchema,
        response: { 200: ChatPresenceSchema, ...errors(400, 404, 422, 502) },
      },
    },
    (request) => {
      const chatId = chatIdOf(request.params.chatId);
      // From memory without a promise when it is there (the common read); else the full path.
      const known = sessions.knownPresence(request.params.session, chatId);
      return known === undefined ? whenWorking(() => sessions.getPresence(request.params.session, chatId)).then((chat) => asJson(chat)) : asJson(known);
    },
  );

  app.post(
    '/api/:session/presence/:chatId/subscribe',
    {
      schema: {
        tags: ['presence'],
        summary: "Subscribe to a chat's presence (no body); renewed automatically after every reconnect",
        params: ChatParamsSchema,
        response: { 201: Type.Null(), ...errors(400, 404, 422, 502) },
      },
    },
    async (request, reply) => {
      await whenWorking(() => sessions.subscribe(request.params.session, chatIdOf(request.params.chatId)));
      return reply.code(201).send(null);
    },
  );

  app.delete(
    '/api/:session/presence/:chatId/subscribe',
    {
      schema: {
        tags: ['presence'],
        summary:
          "Stop renewing a chat's subscription after reconnects (ours, not WAHA's); in any session status. WhatsApp has no unsubscribe: the live connection keeps receiving the chat's presence until it reconnects",
        params: ChatParamsSchema,
        response: { 200: UnsubscribeResultSchema, ...errors(400, 404) },
      },
    },
    async (request) => {
      const chatId = chatIdOf(request.params.chatId, 'chatId', 'stored');
      const removed = await sessions.unsubscribe(request.params.session, chatId);
      return { chatId, subscribed: false as const, removed };
    },
  );

  for (const [path, presence, summary] of [
    ['/api/startTyping', 'typing', 'Start typing in a chat (durationMs: stop by itself after that long)'],
    ['/api/stopTyping', 'paused', 'Stop typing in a chat (sends paused)'],
  ] as const) {
    app.post(
      path,
      {
        schema: { tags: ['presence'], summary, body: TypingBodySchema, response: { 201: ResultSchema, ...errors(400, 404, 422, 502) } },
        preValidation: dropNullFields,
      },
      async (request, reply) => {
        const { session, chatId, durationMs } = request.body;
        if (presence === 'paused' && durationMs !== undefined) {
          throw new AppError('VALIDATION_FAILED', 'durationMs applies to startTyping only', { field: 'durationMs' });
        }
        await whenWorking(() => sessions.setChatPresence(session, chatIdOf(chatId), presence, durationMs === undefined ? {} : { durationMs }));
        return reply.code(201).send({ result: true });
      },
    );
  }
}
