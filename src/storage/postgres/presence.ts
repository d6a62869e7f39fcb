import type { ParticipantPresence } from '../../presence/types.js';
import type { PresenceStore, SubscriptionStore } from '../presence.js';
import { decodePresenceStatus, groupByChat, toSafeNumber } from '../decode.js';
import type { PgPool } from './database.js';

interface PresenceRow {
  chat_id: string;
  participant: string;
  last_known_presence: string;
  last_seen: string | null;
  last_seen_hidden: boolean;
}

function toParticipant(row: PresenceRow): ParticipantPresence {
  const where = `presence of ${row.participant} in ${row.chat_id}`;
  return {
    participant: row.participant,
    lastKnownPresence: decodePresenceStatus(row.last_known_presence, where),
    lastSeen: row.last_seen === null ? null : toSafeNumber(row.last_seen, `${where} last_seen`),
    ...(row.last_seen_hidden ? { lastSeenHidden: true } : {}),
  };
}


const COLUMNS = 'chat_id, participant, last_known_presence, last_seen, last_seen_hidden';

/**
 * `putPool` runs `put`: presence is the busiest write (every typing event of every group) and the
 * least precious, so open.ts gives it connections with synchronous_commit off. A commit then
 * costs no disk flush; a database crash may lose the last fraction of a second of presences,
 * which the next updates replace. Everything else goes through `pool`.
 */
export function createPostgresPresenceStore(pool: PgPool, putPool: PgPool = pool): PresenceStore {
  return {
    get: async (session, chatId) => {
      const { rows } = await pool.query<PresenceRow>(
        `SELECT ${COLUMNS} FROM presences WHERE session = $1 AND chat_id = $2 ORDER BY participant`,
        [session, chatId],
      );
      return groupByChat(rows, toParticipant)[0] ?? null;
    },
    list: async (session) => {
      const { rows } = await pool.query<PresenceRow>(
        `SELECT ${COLUMNS} FROM presences WHERE session = $1 ORDER BY chat_id, participant`,
        [session],
      );
      return groupByChat(rows, toParticipant);
    },
    put: async (session, chatId, presences) => {
      if (presences.length === 0) return;
      // One statement for the whole group. ON CONFLICT DO UPDATE may not touch a row twice in one
      // statement, so the last entry per participant wins first.
      const unique = [...new Map(presences.map((presence) => [presence.participant, presence])).values()];
      await putPool.query(
        `INSERT INTO presences (session, chat_id, participant, last_known_presence, last_seen, last_seen_hidden)
         SELECT $1, $2, participant, status, seen, hidden FROM unnest($3::text[], $4::text[], $5::bigint[], $6::boolean[]) AS t (participant, status, seen, hidden)
         ON CONFLICT (session, chat_id, participant)
         DO UPDATE SET last_known_presence = excluded.last_known_presence, last_seen = excluded.last_seen, last_seen_hidden = excluded.last_seen_hidden`,
        [
          session,
          chatId,
          unique.map((presence) => presence.participant),
          unique.map((presence) => presence.lastKnownPresence),
          unique.map((presence) => presence.lastSeen),
          unique.map((presence) => presence.lastSeenHidden === true),
        ],
      );
    },
    clear: async (session) => {
      await pool.query('DELETE FROM presences WHERE session = $1', [session]);
    },
  } satisfies PresenceStore;
}

export function createPostgresSubscriptionStore(pool: PgPool): SubscriptionStore {
  return {
    add: async (session, chatId, since) => {
      const result = await pool.query(
        'INSERT INTO subscriptions (session, chat_id, since) VALUES ($1, $2, $3) ON CONFLICT (session, chat_id) DO NOTHING',
        [session, chatId, since],
      );
      return result.rowCount === 1;
    },
    remove: async (session, chatId) => {
      const result = await pool.query('DELETE FROM subscriptions WHERE session = $1 AND chat_id = $2', [session, chatId]);
      return result.rowCount === 1;
    },
    list: async (session) => {
      const { rows } = await pool.query<{ chat_id: string; since: string | null }>(
        'SELECT chat_id, since FROM subscriptions WHERE session = $1 ORDER BY seq',
        [session],
      );
      // bigint arrives as a string (node-postgres keeps 64-bit integers exact).
      return rows.map((row) => ({ chatId: row.chat_id, since: row.since === null ? null : toSafeNumber(row.since, `subscription ${row.chat_id} since`) }));
    },
    clear: async (session) => {
      await pool.query('DELETE FROM subscriptions WHERE session = $1', [session]);
    },
  } satisfies SubscriptionStore;
}
