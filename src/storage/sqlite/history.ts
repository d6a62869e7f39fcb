import type { ChatHistoryRange, PresenceHistoryStore, SessionChange, StoredChange, StoredGap } from '../history.js';
import { decodePresenceStatus } from '../decode.js';
import type { SqliteDatabase } from './database.js';
import { settle } from './database.js';

interface ChangeRow {
  id: number;
  chat_id: string;
  participant: string;
  presence: string;
  at: number;
  last_seen: number | null;
}

function toChange(row: ChangeRow): StoredChange {
  return {
    chatId: row.chat_id,
    participant: row.participant,
    presence: decodePresenceStatus(row.presence, `history of ${row.participant} in ${row.chat_id}`),
    at: row.at,
    lastSeen: row.last_seen,
  };
}

interface RangeRow {
  presence: string;
  at: number;
  last_seen: number | null;
}

const COLUMNS = 'id, chat_id, participant, presence, at, last_seen';

/** Participants of a chat without reading its rows: one index seek per participant (a loose index scan). */
const PARTICIPANTS = `WITH RECURSIVE p(participant) AS (
  SELECT MIN(participant) FROM presence_history WHERE session = :session AND chat_id = :chat
  UNION ALL
  SELECT (SELECT MIN(participant) FROM presence_history WHERE session = :session AND chat_id = :chat AND participant > p.participant)
  FROM p WHERE p.participant IS NOT NULL
)`;

export function createSqliteHistoryStore(db: SqliteDatabase): PresenceHistoryStore {
  const insert = db.prepare<[string, string, string, string, number, number | null]>(
    'INSERT INTO presence_history (session, chat_id, participant, presence, at, last_seen) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const append = db.transaction((changes: readonly SessionChange[]) => {
    for (const change of changes) insert.run(change.session, change.chatId, change.participant, change.presence, change.at, change.lastSeen);
  });
  const last = db.prepare<[string, string, string], ChangeRow>(
    `SELECT ${COLUMNS} FROM presence_history WHERE session = ? AND chat_id = ? AND participant = ? ORDER BY at DESC, id DESC LIMIT 1`,
  );
  // Only what the caller does not already know: the chat and the participant are the query's own,
  // so a contact's 30 days (thousands of rows) decode no strings but the presence.
  const rangeOne = db.prepare<[string, string, string, number, number], RangeRow>(
    'SELECT presence, at, last_seen FROM presence_history WHERE session = ? AND chat_id = ? AND participant = ? AND at BETWEEN ? AND ? ORDER BY at, id',
  );
  const beforeOne = db.prepare<[string, string, string, number], ChangeRow>(
    `SELECT ${COLUMNS} FROM presence_history WHERE session = ? AND chat_id = ? AND participant = ? AND at < ? ORDER BY at DESC, id DESC LIMIT 1`,
  );
  const participants = db.prepare<{ session: string; chat: string }, { participant: string }>(
    `${PARTICIPANTS} SELECT participant FROM p WHERE participant IS NOT NULL`,
  );
  const gaps = db.prepare<[string, number, number], { from_at: number; to_at: number | null }>(
    'SELECT from_at, to_at FROM presence_history_gaps WHERE session = ? AND from_at <= ? AND (to_at IS NULL OR to_at >= ?) ORDER BY from_at',
  );
  const marker = db.prepare<[string], { alive_at: number }>('SELECT alive_at FROM presence_history_listening WHERE session = ?');
  const closeGap = db.prepare<[number, string]>('UPDATE presence_history_gaps SET to_at = ? WHERE session = ? AND to_at IS NULL');
  const addGap = db.prepare<[string, number, number | null]>(
    'INSERT INTO presence_history_gaps (session, from_at, to_at) VALUES (?, ?, ?) ON CONFLICT (session, from_at) DO NOTHING',
  );
  const openGap = db.prepare<[string], { from_at: number }>('SELECT from_at FROM presence_history_gaps WHERE session = ? AND to_at IS NULL LIMIT 1');
  const setMarker = db.prepare<[string, number, number]>(
    'INSERT INTO presence_history_listening (session, since, alive_at) VALUES (?, ?, ?) ON CONFLICT (session) DO UPDATE SET since = excluded.since, alive_at = excluded.alive_at',
  );
  const dropMarker = db.prepare<[string]>('DELETE FROM presence_history_listening WHERE session = ?');
  const dropOwnMarker = db.prepare<[string, number]>('DELETE FROM presence_history_listening WHERE session = ? AND since = ?');
  const alive = db.prepare<[number, string, number]>('UPDATE presence_history_listening SET alive_at = ? WHERE session = ? AND since = ?');
  const page = db.prepare<{ session: string; to: number; at: number; id: number; limit: number }, ChangeRow>(
    `SELECT ${COLUMNS} FROM presence_history WHERE session = :session AND at >= :at AND at <= :to AND (at > :at OR id > :id)
     ORDER BY at, id LIMIT :limit`,
  );
  const chatPage = db.prepare<{ session: string; chat: string; to: number; at: number; id: number; limit: number }, ChangeRow>(
    `SELECT ${COLUMNS} FROM presence_history WHERE session = :session AND chat_id = :chat AND at >= :at AND at <= :to AND (at > :at OR id > :id)
     ORDER BY at, id LIMIT :limit`,
  );
  const deleteChat = db.prepare<[string, string]>('DELETE FROM presence_history WHERE session = ? AND chat_id = ?');
  const deleteRows = db.prepare<[string]>('DELETE FROM presence_history WHERE session = ?');
  const deleteGaps = db.prepare<[string]>('DELETE FROM presence_history_gaps WHERE session = ?');
  const deleteOld = db.prepare<[string, number, number]>(
    'DELETE FROM presence_history WHERE id IN (SELECT id FROM presence_history WHERE session = ? AND at < ? ORDER BY at LIMIT ?)',
  );
  const deleteOldGaps = db.prepare<[string, number]>('DELETE FROM presence_history_gaps WHERE session = ? AND to_at IS NOT NULL AND to_at < ?');
  const sessions = db.prepare<[], { session: string }>(
    `WITH RECURSIVE s(session) AS (
       SELECT MIN(session) FROM presence_history
       UNION ALL
       SELECT (SELECT MIN(session) FROM presence_history WHERE session > s.session) FROM s WHERE s.session IS NOT NULL
     ) SELECT session FROM s WHERE session IS NOT NULL UNION SELECT session FROM presence_history_gaps ORDER BY session`,
  );

  const startListening = db.transaction((session: string, at: number) => {
    const crashed = marker.get(session);
    closeGap.run(at, session);
    if (crashed !== undefined && crashed.alive_at < at) addGap.run(session, crashed.alive_at, at);
    setMarker.run(session, at, at);
  });
  const stopListening = db.transaction((session: string, at: number, since: number) => {
    // Another server's start replaced the marker: it listens now.
    if (dropOwnMarker.run(session, since).changes === 0) return;
    if (openGap.get(session) === undefined) addGap.run(session, at, null);
  });
  const heartbeat = db.transaction((listening: readonly { readonly session: string; readonly since: number }[], at: number) => {
    for (const entry of listening) alive.run(at, entry.session, entry.since);
  });
  const deleteSession = db.transaction((session: string) => {
    deleteRows.run(session);
    deleteGaps.run(session);
    dropMarker.run(session);
  });
  const retention = db.transaction((session: string, before: number, limit: number) => {
    const removed = deleteOld.run(session, before, limit).changes;
    deleteOldGaps.run(session, before);
    return removed;
  });

  return {
    append: (changes) =>
      settle(() => {
        if (changes.length > 0) append.immediate(changes);
      }),
    last: (session, chatId, participant) =>
      settle(() => {
        const row = last.get(session, chatId, participant);
        return row === undefined ? null : toChange(row);
      }),
    range: (query: ChatHistoryRange) =>
      settle(() => {
        // One index seek per participant to the range's start: with every participant at once,
        // (session, chat) alone bounds the index scan and every row outside [from, to] is read too.
        const names = query.participant === undefined ? participants.all({ session: query.session, chat: query.chatId }).map((row) => row.participant) : [query.participant];
        const found: StoredChange[] = [];
        for (const participant of names) {
          const context = `history of ${participant} in ${query.chatId}`;
          for (const row of rangeOne.all(query.session, query.chatId, participant, query.from, query.to)) {
            found.push({ chatId: query.chatId, participant, presence: decodePresenceStatus(row.presence, context), at: row.at, lastSeen: row.last_seen });
          }
        }
        return found;
      }),
    before: (session, chatId, participant, at) =>
      settle(() => {
        const names = participant === undefined ? participants.all({ session, chat: chatId }).map((row) => row.participant) : [participant];
        const found: StoredChange[] = [];
        for (const name of names) {
          const row = beforeOne.get(session, chatId, name, at);
          if (row !== undefined) found.push(toChange(row));
        }
        return found;
      }),
    gaps: (session, from, to) => settle(() => gaps.all(session, to, from).map((row): StoredGap => ({ from: row.from_at, to: row.to_at }))),
    startListening: (session, at) =>
      settle(() => {
        startListening.immediate(session, at);
      }),
    stopListening: (session, at, since) =>
      settle(() => {
        stopListening.immediate(session, at, since);
      }),
    heartbeat: (listening, at) =>
      settle(() => {
        if (listening.length > 0) heartbeat.immediate(listening, at);
      }),
    async *export(query) {
      const limit = query.batchSize ?? 1000;
      let cursor = { at: query.from, id: -1 };
      for (;;) {
        // Each page is read whole, synchronously: better-sqlite3 refuses other statements on the
        // connection while an iterator is open, and the consumer awaits between rows.
        const rows =
          query.chatId === undefined
            ? page.all({ session: query.session, to: query.to, ...cursor, limit })
            : chatPage.all({ session: query.session, chat: query.chatId, to: query.to, ...cursor, limit });
        for (const row of rows) yield toChange(row);
        const tail = rows.at(-1);
        if (tail === undefined || rows.length < limit) return;
        cursor = { at: tail.at, id: tail.id };
        // Lets the presence path write between pages.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    },
    deleteChat: (session, chatId) => settle(() => deleteChat.run(session, chatId).changes),
    deleteSession: (session) =>
      settle(() => {
        deleteSession.immediate(session);
      }),
    deleteOlderThan: (session, before, limit) => settle(() => retention.immediate(session, before, limit)),
    sessions: () => settle(() => sessions.all().map((row) => row.session)),
    withRetentionLock: (work) => work(),
  } satisfies PresenceHistoryStore;
}
