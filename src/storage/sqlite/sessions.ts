import type { SessionStore, StoredSession } from '../sessions.js';
import { decodeSession } from '../decode.js';
import type { SqliteDatabase } from './database.js';
import { settle } from './database.js';

interface SessionRow {
  name: string;
  engine: string;
  config: string;
  running: number;
  me: string | null;
  presence: string | null;
  created_at: number;
  updated_at: number;
}

type SessionParams = SessionRow;

function toParams(session: StoredSession): SessionParams {
  return {
    name: session.name,
    engine: session.engine,
    config: JSON.stringify(session.config),
    running: session.running ? 1 : 0,
    me: session.me === null ? null : JSON.stringify(session.me),
    presence: session.presence,
    created_at: session.createdAt,
    updated_at: session.updatedAt,
  };
}

function fromRow(row: SessionRow): StoredSession {
  return decodeSession({
    name: row.name,
    engine: row.engine,
    config: JSON.parse(row.config),
    running: row.running === 1,
    me: row.me === null ? null : JSON.parse(row.me),
    presence: row.presence,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
}

/**
 * Tables that hold rows per session and go when the session goes. Another store with per-session
 * rows adds its table here (outbox rows are the events module's to delete).
 */
const SESSION_OWNED_TABLES = ['auth_keys', 'presences', 'subscriptions', 'leases', 'session_statuses'] as const;

export function createSqliteSessionStore(db: SqliteDatabase): SessionStore {
  const columns = 'name, engine, config, running, me, presence, created_at, updated_at';
  const list = db.prepare<[], SessionRow>(`SELECT ${columns} FROM sessions ORDER BY name`);
  const get = db.prepare<[string], SessionRow>(`SELECT ${columns} FROM sessions WHERE name = ?`);
  const insert = db.prepare<[SessionParams]>(
    `INSERT INTO sessions (${columns})
     VALUES (@name, @engine, @config, @running, @me, @presence, @created_at, @updated_at)
     ON CONFLICT (name) DO NOTHING`,
  );
  const update = db.prepare<[SessionParams]>(
    `UPDATE sessions SET engine = @engine, config = @config, running = @running, me = @me, presence = @presence,
       created_at = @created_at, updated_at = @updated_at
     WHERE name = @name`,
  );
  const remove = db.prepare<[string]>('DELETE FROM sessions WHERE name = ?');
  const removeOwned = SESSION_OWNED_TABLES.map((table) => db.prepare<[string]>(`DELETE FROM ${table} WHERE session = ?`));
  const removeAll = db.transaction((name: string) => {
    const deleted = remove.run(name).changes === 1;
    for (const statement of removeOwned) statement.run(name);
    return deleted;
  });

  return {
    list: () => settle(() => list.all().map(fromRow)),
    get: (name) =>
      settle(() => {
        const row = get.get(name);
        return row === undefined ? null : fromRow(row);
      }),
    create: (session) => settle(() => insert.run(toParams(session)).changes === 1),
    update: (session) => settle(() => update.run(toParams(session)).changes === 1),
    // Rows of a session whose sessions row is already gone are removed too: a delete retried after
    // a crash finishes the job.
    delete: (name) => settle(() => removeAll.immediate(name)),
  } satisfies SessionStore;
}
