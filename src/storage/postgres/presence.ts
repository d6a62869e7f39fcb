import type { ParticipantPresence } from '../../presence/types.js';
import type { PresenceStore, SubscriptionStore } from '../presence.js';
import { decodePresenceStatus, groupByChat, toSafeNumber } from '../decode.js';
import type { PgPool } from './database.js';
import { createGroupCommit } from './group-commit.js';

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


interface PutItem {
  readonly session: string;
  readonly chatId: string;
  readonly presences: readonly ParticipantPresence[];
}

/** Most rows one batched upsert writes. */
const MAX_PUT_ROWS = 1000;

/**
 * One statement for a batch. ON CONFLICT DO UPDATE may not touch a row twice in one statement, so
 * of several entries for one participant of one chat the last (the newest) is kept.
 */
async function upsert(pool: PgPool, items: readonly PutItem[]): Promise<void> {
  const rows = new Map<string, { session: string; chatId: string; presence: ParticipantPresence }>();
  for (const item of items) {
    for (const presence of item.presences) {
      const key = JSON.stringify([item.session, item.chatId, presence.participant]);
      rows.delete(key);
      rows.set(key, { session: item.session, chatId: item.chatId, presence });
    }
  }
  const all = [...rows.values()];
  await pool.query(
    `INSERT INTO presences (session, chat_id, participant, last_known_presence, last_seen, last_seen_hidden)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::boolean[])
     ON CONFLICT (session, chat_id, participant)
     DO UPDATE SET last_known_presence = excluded.last_known_presence, last_seen = excluded.last_seen, last_seen_hidden = excluded.last_seen_hidden`,
    [
      all.map((row) => row.session),
      all.map((row) => row.chatId),
      all.map((row) => row.presence.participant),
      all.map((row) => row.presence.lastKnownPresence),
      all.map((row) => row.presence.lastSeen),
      all.map((row) => row.presence.lastSeenHidden === true),
    ],
  );
}

const COLUMNS = 'chat_id, participant, last_known_presence, last_seen, last_seen_hidden';

/**
 * `putPool` runs `put`: presence is the busiest write (every typing event of every group) and the
 * least precious, so open.ts gives it connections with synchronous_commit off. A commit then
 * costs no disk flush; a database crash may lose the last fraction of a second of presences,
 * which the next updates replace. Everything else goes through `pool`.
 */
export function createPostgresPresenceStore(pool: PgPool, putPool: PgPool = pool): PresenceStore {
  // Puts are group-committed: one session's intake does not wait for a put before it merges its
  // next event (src/sessions/intake.ts), so the puts of a burst share one statement, written in
  // call order (one batch in flight): a chat's newer presence is never overwritten by an older one.
  const put = createGroupCommit<PutItem, void>({
    runBatch: async (items) => {
      await upsert(putPool, items);
      return items.map(() => undefined);
    },
    weight: (item) => item.presences.length,
    maxWeight: MAX_PUT_ROWS,
    schedule: setImmediate,
  });
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
    put: (session, chatId, presences) => (presences.length === 0 ? Promise.resolve() : put({ session, chatId, presences })),
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
