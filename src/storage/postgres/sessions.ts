import type { SessionStore, StoredSession } from '../sessions.js';
import { decodeSession, toSafeNumber } from '../decode.js';
import type { PgPool } from './database.js';
import { inTransaction } from './database.js';

interface SessionRow {
  name: string;
  engine: string;
  config: unknown;
  running: boolean;
  me: unknown;
  presence: string | null;
  created_at: string;
  updated_at: string;
}

function toParams(session: StoredSession): unknown[] {
  return [
    session.name,
    session.engine,
    JSON.stringify(session.config),
    session.running,
    session.me === null ? null : JSON.stringify(session.me),
    session.presence,
    session.createdAt,
    session.updatedAt,
  ];
}

function fromRow(row: SessionRow): StoredSession {
  return decodeSession({
    name: row.name,
    engine: row.engine,
    config: row.config,
    running: row.running,
    me: row.me,
    presence: row.presence,
    createdAt: toSafeNumber(row.created_at, `session "${row.name}" created_at`),
    updatedAt: toSafeNumber(row.updated_at, `session "${row.name}" updated_at`),
  });
}

/**
 * Tables that hold rows per session and go when the session goes. Another store with per-session
 * rows adds its table here (outbox rows are the events module's to delete).
 */
const SESSION_OWNED_TABLES = ['auth_keys', 'presences', 'subscriptions', 'leases', 'session_statuses'] as const;

const COLUMNS = 'name, engine, config, running, me, presence, created_at, updated_at';

export function createPostgresSessionStore(pool: PgPool): SessionStore {
  return {
    list: async () => (await pool.query<SessionRow>(`SELECT ${COLUMNS} FROM sessions ORDER BY name`)).rows.map(fromRow),
    get: async (name) => {
      const { rows } = await pool.query<SessionRow>(`SELECT ${COLUMNS} FROM sessions WHERE name = $1`, [name]);
      return rows[0] === undefined ? null : fromRow(rows[0]);
    },
    create: async (session) => {
      const result = await pool.query(
        `INSERT INTO sessions (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO NOTHING`,
        toParams(session),
      );
      return result.rowCount === 1;
    },
    update: async (session) => {
      const result = await pool.query(
        `UPDATE sessions SET engine = $2, config = $3, running = $4, me = $5, presence = $6, created_at = $7, updated_at = $8
         WHERE name = $1`,
        toParams(session),
      );
      return result.rowCount === 1;
    },
    // Rows of a session whose sessions row is already gone are removed too: a delete retried after
    // a crash finishes the job.
    delete: (name) =>
      inTransaction(pool, async (client) => {
        const result = await client.query('DELETE FROM sessions WHERE name = $1', [name]);
        for (const table of SESSION_OWNED_TABLES) await client.query(`DELETE FROM ${table} WHERE session = $1`, [name]);
        return result.rowCount === 1;
      }),
  } satisfies SessionStore;
}
