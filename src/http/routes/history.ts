import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { clipGaps, createIntervalBuilder, createSummaryFold, onlineIntervals, onlineSeconds } from '../../presence/history.js';
import type { ListeningGap, OnlineSummary, PresenceChange } from '../../presence/history.js';
import type { SessionConfig } from '../../presence/sessions.js';
import type { HistoryRecorder } from '../../sessions/history-recorder.js';
import type { PresenceHistoryStore, StoredChange, StoredGap } from '../../storage/history.js';
import type { SessionStore } from '../../storage/sessions.js';
import {
  ChatHistorySchema,
  DeleteChatHistorySchema,
  DeleteSessionHistorySchema,
  HISTORY_MAX_EXPORT_RANGE_S,
  HISTORY_MAX_JSON_RANGE_S,
  HistoryQuerySchema,
  HistorySummarySchema,
  SessionHistoryQuerySchema,
} from '../history-schemas.js';
import { ChatParamsSchema, SessionParamsSchema, errors } from '../schemas.js';
import { chatIdOf } from './presence.js';
import { systemClock } from '../../clock.js';
import type { Clock } from '../../clock.js';

export interface HistoryRoutesOptions {
  readonly store: PresenceHistoryStore;
  readonly sessions: Pick<SessionStore, 'get'>;
  readonly recorder: HistoryRecorder;
  /** Milliseconds since the epoch (the default range ends now). */
  readonly clock?: Pick<Clock, 'now'>;
}

type ExportFormat = 'csv' | 'ndjson';

/** CSV or NDJSON when the client asks for it (Accept), else JSON. */
function exportFormat(request: FastifyRequest): ExportFormat | null {
  const accept = request.headers.accept ?? '';
  if (accept.includes('text/csv')) return 'csv';
  if (accept.includes('application/x-ndjson')) return 'ndjson';
  return null;
}

const seconds = (ms: number): number => ms / 1000;
const toChange = (row: StoredChange): PresenceChange => ({ presence: row.presence, at: seconds(row.at), lastSeen: row.lastSeen });
const toGap = (gap: StoredGap): ListeningGap => ({ from: seconds(gap.from), to: gap.to === null ? null : seconds(gap.to) });

/** The range asked for, in Unix seconds, checked: default the last 24 hours. */
function rangeOf(query: { from?: number; to?: number }, now: number, maxSeconds: number): { from: number; to: number } {
  // Up, so that what was learned within the current second is in the default range.
  const to = query.to ?? Math.ceil(now / 1000);
  const from = query.from ?? to - 86_400;
  if (from > to) throw new AppError('INVALID_HISTORY_RANGE', `from (${from}) is after to (${to}); both are Unix seconds`, { field: 'query.from' });
  if (to - from > maxSeconds) {
    throw new AppError('INVALID_HISTORY_RANGE', `the range is ${to - from} s; at most ${maxSeconds} s (${maxSeconds / 86_400} days) here: ask for a shorter one`, {
      field: 'query.from',
      maxSeconds,
    });
  }
  return { from: Math.max(0, from), to };
}

/** A group's participant is a person: a contact or a linked-device id, never a group. */
function participantOf(raw: string): string {
  const id = chatIdOf(raw, 'query.participant');
  if (id.endsWith('@g.us')) {
    throw new AppError('INVALID_CHAT_ID', `participant "${raw}" is a group; expected <digits>@c.us or <digits>@lid`, { field: 'query.participant' });
  }
  return id;
}

function csvCell(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

async function* exportLines(rows: AsyncIterable<StoredChange>, session: string, format: ExportFormat): AsyncGenerator<string> {
  if (format === 'csv') yield 'session,chatId,participant,presence,at,lastSeen\n';
  for await (const row of rows) {
    const line = { session, chatId: row.chatId, participant: row.participant, presence: row.presence, at: seconds(row.at), lastSeen: row.lastSeen };
    yield format === 'csv' ? `${[line.session, line.chatId, line.participant, line.presence, line.at, line.lastSeen].map(csvCell).join(',')}\n` : `${JSON.stringify(line)}\n`;
  }
}

/**
 * Presence history routes (ours, not WAHA's). Reads are answered by whichever server receives
 * them (`answerLocally`): the history is in the database, shared by every server on PostgreSQL,
 * and an export must stream rather than be buffered by the forwarding hop. A DELETE goes to the
 * session's owner like any request, so its recorder forgets what it remembers of the chat too.
 */
export function historyRoutes(server: FastifyInstance, options: HistoryRoutesOptions): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const { store, recorder } = options;
  const clock = options.clock ?? systemClock;

  /** The session's config when its history is on; SESSION_NOT_FOUND or HISTORY_DISABLED otherwise. */
  async function requireHistory(session: string): Promise<SessionConfig> {
    const stored = await options.sessions.get(session);
    if (stored === null) throw new AppError('SESSION_NOT_FOUND', `session "${session}" does not exist`, { session });
    if (!recorder.enabled(stored.config)) {
      throw new AppError(
        'HISTORY_DISABLED',
        `presence history is off for session "${session}": turn it on with PUT /api/sessions/${session} and config.presenceHistory.enabled: true, or for every session with WA_PRESENCE_HISTORY=true; it records from then on`,
        { session },
      );
    }
    return stored.config;
  }

  function sendExport(reply: FastifyReply, rows: AsyncIterable<StoredChange>, session: string, format: ExportFormat): FastifyReply {
    reply.header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
    return reply.send(Readable.from(exportLines(rows, session, format)));
  }

  app.get(
    '/api/:session/presence/:chatId/history',
    {
      config: { answerLocally: true },
      schema: {
        tags: ['presence'],
        summary: 'Presence history of a chat: changes, online intervals, gaps (ours); CSV or NDJSON export by Accept',
        params: ChatParamsSchema,
        querystring: HistoryQuerySchema,
        response: { 200: ChatHistorySchema, ...errors(400, 404, 409) },
      },
    },
    async (request, reply) => {
      const { session } = request.params;
      const chatId = chatIdOf(request.params.chatId);
      const participant = request.query.participant === undefined ? undefined : participantOf(request.query.participant);
      const format = exportFormat(request);
      const { from, to } = rangeOf(request.query, clock.now(), format === null ? HISTORY_MAX_JSON_RANGE_S : HISTORY_MAX_EXPORT_RANGE_S);
      await requireHistory(session);
      const fromMs = from * 1000;
      const toMs = to * 1000;
      if (format !== null) return sendExport(reply, store.export({ session, chatId, from: fromMs, to: toMs }), session, format);
      const [rows, before, storedGaps] = await Promise.all([
        store.range({ session, chatId, from: fromMs, to: toMs, ...(participant === undefined ? {} : { participant }) }),
        store.before(session, chatId, participant, fromMs),
        store.gaps(session, fromMs, toMs),
      ]);
      const gaps = storedGaps.map(toGap);
      const byParticipant = new Map<string, PresenceChange[]>();
      for (const entry of before) byParticipant.set(entry.participant, []);
      for (const row of rows) {
        const list = byParticipant.get(row.participant) ?? [];
        list.push(toChange(row));
        byParticipant.set(row.participant, list);
      }
      const beforeOf = new Map(before.map((entry) => [entry.participant, toChange(entry)]));
      const shownGaps = clipGaps(gaps, from, to);
      const participants = [...byParticipant.keys()].sort().map((name) => {
        const changes = byParticipant.get(name) ?? [];
        const online = onlineIntervals(changes, { from, to, gaps, before: beforeOf.get(name) ?? null, mergeGap: request.query.gap ?? 0 });
        return { participant: name, changes, online, onlineSeconds: onlineSeconds(online), gaps: shownGaps };
      });
      return { id: chatId, from, to, participants };
    },
  );

  app.get(
    '/api/:session/presence/history',
    {
      config: { answerLocally: true },
      schema: {
        tags: ['presence'],
        summary: 'Presence history summary, one per chat and participant (ours); CSV or NDJSON export of every change by Accept',
        params: SessionParamsSchema,
        querystring: SessionHistoryQuerySchema,
        response: { 200: HistorySummarySchema, ...errors(400, 404, 409) },
      },
    },
    async (request, reply) => {
      const { session } = request.params;
      const format = exportFormat(request);
      const { from, to } = rangeOf(request.query, clock.now(), format === null ? HISTORY_MAX_JSON_RANGE_S : HISTORY_MAX_EXPORT_RANGE_S);
      await requireHistory(session);
      const fromMs = from * 1000;
      const toMs = to * 1000;
      const rows = store.export({ session, from: fromMs, to: toMs });
      if (format !== null) return sendExport(reply, rows, session, format);
      const gaps = (await store.gaps(session, fromMs, toMs)).map(toGap);
      // One builder per chat and participant, fed in time order: memory grows with participants, not rows.
      const open = new Map<string, { chatId: string; participant: string; push: (change: PresenceChange) => void; finish: () => OnlineSummary }>();
      for await (const row of rows) {
        const key = `${row.chatId}\u0000${row.participant}`;
        let entry = open.get(key);
        if (entry === undefined) {
          const [previous] = await store.before(session, row.chatId, row.participant, fromMs);
          const fold = createSummaryFold();
          const builder = createIntervalBuilder({ from, to, gaps, before: previous === undefined ? null : toChange(previous), mergeGap: request.query.gap ?? 0 }, (made) => fold.add(made));
          entry = {
            chatId: row.chatId,
            participant: row.participant,
            push: (change) => builder.push(change),
            finish: () => {
              builder.finish();
              return fold.result();
            },
          };
          open.set(key, entry);
        }
        entry.push(toChange(row));
      }
      const summaries = [...open.values()]
        .map((entry) => ({ chatId: entry.chatId, participant: entry.participant, ...entry.finish() }))
        .sort((a, b) => (a.chatId === b.chatId ? (a.participant < b.participant ? -1 : 1) : a.chatId < b.chatId ? -1 : 1));
      return { from, to, summaries };
    },
  );

  app.delete(
    '/api/:session/presence/:chatId/history',
    {
      schema: {
        tags: ['presence'],
        summary: 'Forget the presence history of a chat (ours); works with history on or off',
        params: ChatParamsSchema,
        response: { 200: DeleteChatHistorySchema, ...errors(400, 404) },
      },
    },
    async (request) => {
      const { session } = request.params;
      const chatId = chatIdOf(request.params.chatId);
      if ((await options.sessions.get(session)) === null) throw new AppError('SESSION_NOT_FOUND', `session "${session}" does not exist`, { session });
      return { chatId, deleted: await recorder.forgetChat(session, chatId) };
    },
  );

  app.delete(
    '/api/:session/presence/history',
    {
      schema: {
        tags: ['presence'],
        summary: 'Forget the whole presence history of a session (ours); recording goes on if history is on',
        params: SessionParamsSchema,
        response: { 200: DeleteSessionHistorySchema, ...errors(404) },
      },
    },
    async (request) => {
      const { session } = request.params;
      if ((await options.sessions.get(session)) === null) throw new AppError('SESSION_NOT_FOUND', `session "${session}" does not exist`, { session });
      await recorder.forget(session);
      return { session, deleted: true as const };
    },
  );
}
