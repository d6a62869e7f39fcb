import type { Migration } from '../migration.js';
import { SQLITE_OUTBOX_CANCELLED_MIGRATION, SQLITE_OUTBOX_MIGRATION } from './outbox-migration.js';
import { SQLITE_HISTORY_COVERING_MIGRATION, SQLITE_HISTORY_MIGRATION } from './history-migration.js';

/**
 * The SQLite schema, as numbered migrations applied in order, each in its own transaction, and
 * recorded in `schema_migrations`. Applied migrations are never edited: a change is a new entry
 * with the next version. Another module may contribute its own entry (the outbox does) by adding
 * it to this list with the next free version.
 */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sessions, auth keys, presence, subscriptions, settings, leases',
    // STRICT: SQLite otherwise stores whatever type it is given; a number where text belongs would
    // surface much later as a decoding error. WITHOUT ROWID: the tables are looked up only by
    // their composite primary key, which then is the table itself (one b-tree, not two).
    sql: `
      CREATE TABLE sessions (
        name TEXT PRIMARY KEY,
        engine TEXT NOT NULL,
        config TEXT NOT NULL,
        running INTEGER NOT NULL CHECK (running IN (0, 1)),
        me TEXT,
        presence TEXT CHECK (presence IN ('online', 'offline')),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;

      -- The primary key (session, category, id) serves get (session, category, id IN …) and, as
      -- its prefix, clear and the session cascade (session = ?); no other index is needed.
      CREATE TABLE auth_keys (
        session TEXT NOT NULL,
        category TEXT NOT NULL,
        id TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (session, category, id)
      ) STRICT, WITHOUT ROWID;

      -- The primary key (session, chat_id, participant) serves get (session, chat_id), list and
      -- clear (session prefix, already in chat and participant order) and the upsert's conflict.
      CREATE TABLE presences (
        session TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        participant TEXT NOT NULL,
        last_known_presence TEXT NOT NULL,
        last_seen INTEGER,
        PRIMARY KEY (session, chat_id, participant)
      ) STRICT, WITHOUT ROWID;

      -- seq (the rowid) records the order of addition: a new row gets max(rowid)+1, so it sorts
      -- after every row that exists. The unique constraint makes add idempotent.
      CREATE TABLE subscriptions (
        seq INTEGER PRIMARY KEY,
        session TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        UNIQUE (session, chat_id)
      ) STRICT;
      -- An index on (session) holds (session, rowid) in order: list(session) reads it without a
      -- sort. The unique index above is ordered by chat_id, which list must not use.
      CREATE INDEX subscriptions_by_session ON subscriptions (session);

      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;

      -- Who runs each session (see leases.ts). owner NULL: released. expires_at in ms.
      CREATE TABLE leases (
        session TEXT PRIMARY KEY,
        owner TEXT,
        epoch INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      -- Counting and renewing one owner's leases (every heartbeat) reads only that owner's rows.
      CREATE INDEX leases_by_owner ON leases (owner, expires_at);
    `,
  },
  {
    version: 2,
    name: 'session runtime statuses (several servers: what each owner last said, for the session list)',
    // Written by the lease owner on every status change (src/storage/statuses.ts); one row per session.
    sql: `
      CREATE TABLE session_statuses (
        session TEXT PRIMARY KEY,
        status TEXT NOT NULL CHECK (status IN ('STOPPED', 'STARTING', 'SCAN_QR_CODE', 'WORKING', 'FAILED')),
        server TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        engine INTEGER NOT NULL CHECK (engine IN (0, 1)),
        at INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: 'subscriptions: since (when each chat was subscribed, for GET /presence/subscriptions)',
    // Nullable: rows from before this migration were stored without a time, and none is made up for them.
    sql: `ALTER TABLE subscriptions ADD COLUMN since INTEGER;`,
  },
  {
    version: 4,
    name: "session statuses: reason (why the owner's session reached its status, for every server's list)",
    sql: `ALTER TABLE session_statuses ADD COLUMN reason TEXT;`,
  },
  {
    version: 5,
    name: 'presences: last_seen_hidden (WhatsApp said the person hides their last seen)',
    sql: `ALTER TABLE presences ADD COLUMN last_seen_hidden INTEGER NOT NULL DEFAULT 0;`,
  },
  SQLITE_OUTBOX_MIGRATION,
  SQLITE_OUTBOX_CANCELLED_MIGRATION,
  SQLITE_HISTORY_MIGRATION,
  SQLITE_HISTORY_COVERING_MIGRATION,
];
