import type { ParticipantPresence } from '../../presence/types.js';
import type { PresenceStore, SubscriptionStore } from '../presence.js';
import { decodePresenceStatus, groupByChat } from '../decode.js';
import type { SqliteDatabase } from './database.js';
import { settle } from './database.js';
import type { GroupCommit } from './group-commit.js';
import { createGroupCommit } from './group-commit.js';

interface PresenceRow {
  chat_id: string;
  participant: string;
  last_known_presence: string;
  last_seen: number | null;
  last_seen_hidden: number;
}

function toParticipant(row: PresenceRow): ParticipantPresence {
  return {
    participant: row.participant,
    lastKnownPresence: decodePresenceStatus(row.last_known_presence, `presence of ${row.participant} in ${row.chat_id}`),
    lastSeen: row.last_seen,
    ...(row.last_seen_hidden === 1 ? { lastSeenHidden: true } : {}),
  };
}


/**
 * `grouped`: the database's group commit (open.ts), so that a put shares its transaction with the
 * other puts and the outbox's writes of the same turn: a transaction of its own per put was a
 * commit per presence update.
 */
export function createSqlitePresenceStore(db: SqliteDatabase, grouped: GroupCommit = createGroupCommit(db)): PresenceStore {
  const columns = 'chat_id, participant, last_known_presence, last_seen, last_seen_hidden';
  const get = db.prepare<[string, string], PresenceRow>(
    `SELECT ${columns} FROM presences WHERE session = ? AND chat_id = ? ORDER BY participant`,
  );
  const list = db.prepare<[string], PresenceRow>(
    `SELECT ${columns} FROM presences WHERE session = ? ORDER BY chat_id, participant`,
  );
  const upsert = db.prepare<[string, string, string, string, number | null, number]>(
    `INSERT INTO presences (session, chat_id, participant, last_known_presence, last_seen, last_seen_hidden) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (session, chat_id, participant)
     DO UPDATE SET last_known_presence = excluded.last_known_presence, last_seen = excluded.last_seen, last_seen_hidden = excluded.last_seen_hidden`,
  );
  const clear = db.prepare<[string]>('DELETE FROM presences WHERE session = ?');
  // Runs inside the group's transaction: all of one chat's rows, or (the batch failed) none.
  const put = grouped((session: string, chatId: string, presences: readonly ParticipantPresence[]) => {
    for (const presence of presences) {
      upsert.run(session, chatId, presence.participant, presence.lastKnownPresence, presence.lastSeen, presence.lastSeenHidden === true ? 1 : 0);
    }
  });

  return {
    get: (session, chatId) =>
      settle(() => {
        const rows = get.all(session, chatId);
        return groupByChat(rows, toParticipant)[0] ?? null;
      }),
    list: (session) => settle(() => groupByChat(list.all(session), toParticipant)),
    put: (session, chatId, presences) => (presences.length > 0 ? put(session, chatId, presences) : Promise.resolve()),
    clear: (session) =>
      settle(() => {
        clear.run(session);
      }),
  } satisfies PresenceStore;
}

export function createSqliteSubscriptionStore(db: SqliteDatabase): SubscriptionStore {
  const add = db.prepare<[string, string, number]>(
    'INSERT INTO subscriptions (session, chat_id, since) VALUES (?, ?, ?) ON CONFLICT (session, chat_id) DO NOTHING',
  );
  const remove = db.prepare<[string, string]>('DELETE FROM subscriptions WHERE session = ? AND chat_id = ?');
  const list = db.prepare<[string], { chat_id: string; since: number | null }>('SELECT chat_id, since FROM subscriptions WHERE session = ? ORDER BY seq');
  const clear = db.prepare<[string]>('DELETE FROM subscriptions WHERE session = ?');

  return {
    add: (session, chatId, since) => settle(() => add.run(session, chatId, since).changes === 1),
    remove: (session, chatId) => settle(() => remove.run(session, chatId).changes === 1),
    list: (session) => settle(() => list.all(session).map((row) => ({ chatId: row.chat_id, since: row.since }))),
    clear: (session) =>
      settle(() => {
        clear.run(session);
      }),
  } satisfies SubscriptionStore;
}
