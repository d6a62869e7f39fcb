import { createHash } from 'node:crypto';
import type { PresenceHistoryStore, StoredChange } from '../history.js';
import { decodePresenceStatus, toSafeNumber } from '../decode.js';
import type { PgPool } from './database.js';
import { inTransaction } from './database.js';

interface ChangeRow {
  id: string;
  chat_id: string;
  participant: string;
  presence: string;
  at: string;
  last_seen: string | null;
}

/** A range row: the chat is the query's own. */
type RangeRow = Omit<ChangeRow, 'id' | 'chat_id'>;

function toChange(row: Omit<ChangeRow, 'id'>): StoredChange {
  const where = `history of ${row.participant} in ${row.chat_id}`;
  return {
    chatId: row.chat_id,
    participant: row.participant,
    presence: decodePresenceStatus(row.presence, where),
    at: toSafeNumber(row.at, `${where} at`),
    lastSeen: row.last_seen === null ? null : toSafeNumber(row.last_seen, `${where} last_seen`),
  };
}

const COLUMNS = 'id, chat_id, participant, presence, at, last_seen';

/** Participants of a chat by a loose index scan: one index seek each, not a read of every row. */
const PARTICIPANTS = `WITH RECURSIVE p(participant) AS (
  SELECT MIN(participant) FROM presence_history WHERE session = $1 AND chat_id = $2
  UNION ALL
  SELECT (SELECT MIN(participant) FROM presence_history WHERE session = $1 AND chat_id = $2 AND participant > p.participant)
  FROM p WHERE p.participant IS NOT NULL
)`;

/** Sessions with changes by a loose index scan of the time index (one seek per session). */
const SESSIONS = `WITH RECURSIVE s(session) AS (
  SELECT MIN(session) FROM presence_history
  UNION ALL
  SELECT (SELECT MIN(session) FROM presence_history WHERE session > s.session) FROM s WHERE s.session IS NOT NULL
)`;

/** One advisory lock key per schema: servers of one cluster exclude each other, other schemas (tests) do not. */
function retentionLockKey(schema: string): string {
  return createHash('sha256').update(`wa-presence:history-retention:${schema}`).digest().readBigInt64BE(0).toString();
}

export function createPostgresHistoryStore(pool: PgPool, schema: string): PresenceHistoryStore {
  return {
    append: async (changes) => {
      if (changes.length === 0) return;
      // One statement; unnest keeps the order given (ids follow it).
      await pool.query(
        `INSERT INTO presence_history (session, chat_id, participant, presence, at, last_seen)
         SELECT s, c, p, pr, a, l
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[]) WITH ORDINALITY AS t (s, c, p, pr, a, l, n)
         ORDER BY n`,
        [
          changes.map((change) => change.session),
          changes.map((change) => change.chatId),
          changes.map((change) => change.participant),
          changes.map((change) => change.presence),
          changes.map((change) => change.at),
          changes.map((change) => change.lastSeen),
        ],
      );
    },
    last: async (session, chatId, participant) => {
      const { rows } = await pool.query<ChangeRow>(
        `SELECT ${COLUMNS} FROM presence_history WHERE session = $1 AND chat_id = $2 AND participant = $3 ORDER BY at DESC, id DESC LIMIT 1`,
        [session, chatId, participant],
      );
      const row = rows[0];
      return row === undefined ? null : toChange(row);
    },
    range: async (query) => {
      // Only what the caller does not already know (not the chat, not the id): fewer values to
      // parse for a contact's 30 days of thousands of rows.
      const { rows } =
        query.participant === undefined
          ? // One index seek per participant to the range's start (as on SQLite): with every
            // participant at once, (session, chat) alone bounds the index scan and every row of the
            // chat outside [from, to] is read too.
            await pool.query<RangeRow>(
              `${PARTICIPANTS} SELECT l.participant, l.presence, l.at, l.last_seen FROM p CROSS JOIN LATERAL (
                 SELECT h.participant, h.presence, h.at, h.last_seen, h.id FROM presence_history h
                 WHERE h.session = $1 AND h.chat_id = $2 AND h.participant = p.participant AND h.at BETWEEN $3 AND $4
                 ORDER BY h.at, h.id) l
               WHERE p.participant IS NOT NULL ORDER BY l.participant, l.at, l.id`,
              [query.session, query.chatId, query.from, query.to],
            )
          : await pool.query<RangeRow>(
              'SELECT participant, presence, at, last_seen FROM presence_history WHERE session = $1 AND chat_id = $2 AND participant = $3 AND at BETWEEN $4 AND $5 ORDER BY at, id',
              [query.session, query.chatId, query.participant, query.from, query.to],
            );
      return rows.map((row) => toChange({ ...row, chat_id: query.chatId }));
    },
    before: async (session, chatId, participant, at) => {
      const names =
        participant === undefined
          ? `${PARTICIPANTS}, names AS (SELECT participant FROM p WHERE participant IS NOT NULL)`
          : 'WITH names AS (SELECT $4::text AS participant)';
      const { rows } = await pool.query<ChangeRow>(
        `${names} SELECT l.* FROM names CROSS JOIN LATERAL (
           SELECT ${COLUMNS} FROM presence_history h
           WHERE h.session = $1 AND h.chat_id = $2 AND h.participant = names.participant AND h.at < $3
           ORDER BY h.at DESC, h.id DESC LIMIT 1) l ORDER BY l.participant`,
        participant === undefined ? [session, chatId, at] : [session, chatId, at, participant],
      );
      return rows.map(toChange);
    },
    gaps: async (session, from, to) => {
      const { rows } = await pool.query<{ from_at: string; to_at: string | null }>(
        'SELECT from_at, to_at FROM presence_history_gaps WHERE session = $1 AND from_at <= $2 AND (to_at IS NULL OR to_at >= $3) ORDER BY from_at',
        [session, to, from],
      );
      return rows.map((row) => ({ from: toSafeNumber(row.from_at, 'gap from'), to: row.to_at === null ? null : toSafeNumber(row.to_at, 'gap to') }));
    },
    startListening: async (session, at) => {
      await inTransaction(pool, async (client) => {
        const { rows } = await client.query<{ alive_at: string }>('SELECT alive_at FROM presence_history_listening WHERE session = $1 FOR UPDATE', [session]);
        await client.query('UPDATE presence_history_gaps SET to_at = $2 WHERE session = $1 AND to_at IS NULL', [session, at]);
        const crashed = rows[0];
        if (crashed !== undefined && toSafeNumber(crashed.alive_at, 'alive_at') < at) {
          await client.query('INSERT INTO presence_history_gaps (session, from_at, to_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [session, crashed.alive_at, at]);
        }
        await client.query(
          `INSERT INTO presence_history_listening (session, since, alive_at) VALUES ($1, $2, $2)
           ON CONFLICT (session) DO UPDATE SET since = excluded.since, alive_at = excluded.alive_at`,
          [session, at],
        );
      });
    },
    stopListening: async (session, at, since) => {
      await inTransaction(pool, async (client) => {
        const dropped = await client.query('DELETE FROM presence_history_listening WHERE session = $1 AND since = $2', [session, since]);
        // Another server's start replaced the marker: it listens now.
        if (dropped.rowCount !== 1) return;
        await client.query(
          `INSERT INTO presence_history_gaps (session, from_at, to_at)
           SELECT $1, $2, NULL WHERE NOT EXISTS (SELECT 1 FROM presence_history_gaps WHERE session = $1 AND to_at IS NULL)
           ON CONFLICT DO NOTHING`,
          [session, at],
        );
      });
    },
    heartbeat: async (listening, at) => {
      if (listening.length === 0) return;
      await pool.query(
        `UPDATE presence_history_listening l SET alive_at = $3
         FROM unnest($1::text[], $2::bigint[]) AS t (session, since) WHERE l.session = t.session AND l.since = t.since`,
        [listening.map((entry) => entry.session), listening.map((entry) => entry.since), at],
      );
    },
    async *export(query) {
      const limit = query.batchSize ?? 1000;
      let cursor = { at: query.from, id: '-1' };
      const chat = query.chatId === undefined ? '' : ' AND chat_id = $6';
      for (;;) {
        // Keyset pages, not a cursor: a cursor lives in a transaction, which a slow consumer would
        // keep open past the idle-in-transaction timeout (and hold back vacuum meanwhile).
        const { rows } = await pool.query<ChangeRow>(
          `SELECT ${COLUMNS} FROM presence_history WHERE session = $1 AND (at, id) > ($2::bigint, $3::bigint) AND at <= $4${chat}
           ORDER BY at, id LIMIT $5`,
          query.chatId === undefined ? [query.session, cursor.at, cursor.id, query.to, limit] : [query.session, cursor.at, cursor.id, query.to, limit, query.chatId],
        );
        for (const row of rows) yield toChange(row);
        const tail = rows.at(-1);
        if (tail === undefined || rows.length < limit) return;
        cursor = { at: toSafeNumber(tail.at, 'at'), id: tail.id };
      }
    },
    deleteChat: async (session, chatId) => {
      const result = await pool.query('DELETE FROM presence_history WHERE session = $1 AND chat_id = $2', [session, chatId]);
      return result.rowCount ?? 0;
    },
    deleteSession: async (session) => {
      await inTransaction(pool, async (client) => {
        await client.query('DELETE FROM presence_history WHERE session = $1', [session]);
        await client.query('DELETE FROM presence_history_gaps WHERE session = $1', [session]);
        await client.query('DELETE FROM presence_history_listening WHERE session = $1', [session]);
      });
    },
    deleteOlderThan: async (session, before, limit) => {
      const result = await pool.query(
        'DELETE FROM presence_history WHERE id IN (SELECT id FROM presence_history WHERE session = $1 AND at < $2 ORDER BY at LIMIT $3)',
        [session, before, limit],
      );
      await pool.query('DELETE FROM presence_history_gaps WHERE session = $1 AND to_at IS NOT NULL AND to_at < $2', [session, before]);
      return result.rowCount ?? 0;
    },
    sessions: async () => {
      const { rows } = await pool.query<{ session: string }>(
        `${SESSIONS} SELECT session FROM s WHERE session IS NOT NULL UNION SELECT session FROM presence_history_gaps ORDER BY session`,
      );
      return rows.map((row) => row.session);
    },
    withRetentionLock: async (work) => {
      // A session-level lock on a connection of its own, held (not in a transaction) for the run;
      // the batches go through the pool. A server that dies releases it with its connection.
      const client = await pool.connect();
      const key = retentionLockKey(schema);
      try {
        const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [key]);
        if (rows[0]?.locked !== true) return null;
        try {
          return await work();
        } finally {
          await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
        }
      } finally {
        client.release();
      }
    },
  } satisfies PresenceHistoryStore;
}
