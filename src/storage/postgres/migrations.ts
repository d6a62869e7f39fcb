import type { Migration } from '../migration.js';
import { POSTGRES_OUTBOX_MIGRATIONS } from './outbox-migration.js';
import { POSTGRES_HISTORY_COVERING_MIGRATION, POSTGRES_HISTORY_MIGRATION } from './history-migration.js';

/**
 * The PostgreSQL schema, as numbered migrations applied in order at start, under an advisory lock,
 * each in its own transaction, and recorded in `schema_migrations`. They run with `search_path`
 * set to the configured schema, so names stay unqualified. Applied migrations are never edited:
 * a change is a new entry with the next version, and another module may contribute its own entry
 * (the outbox does). Keep the semantics identical to sqlite/migrations.ts: one conformance suite
 * runs on both.
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sessions, auth keys, presence, subscriptions, settings, leases',
    // COLLATE "C" on names and ids that are listed in order: byte order, as SQLite sorts, so both
    // backends list "B" before "a" whatever the database's locale; it also makes the b-trees
    // compare bytes instead of running locale rules.
    sql: `
      CREATE TABLE sessions (
        name text COLLATE "C" PRIMARY KEY,
        engine text NOT NULL,
        config jsonb NOT NULL,
        running boolean NOT NULL,
        me jsonb,
        presence text CHECK (presence IN ('online', 'offline')),
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL
      );

      -- The primary key (session, category, id) serves get (session, category, id = ANY(…)) and,
      -- as its prefix, clear and the session cascade; no other index is needed.
      CREATE TABLE auth_keys (
        session text NOT NULL,
        category text NOT NULL,
        id text NOT NULL,
        value text NOT NULL,
        PRIMARY KEY (session, category, id)
      );

      -- The primary key (session, chat_id, participant) serves get, list and clear (session
      -- prefix, already in chat and participant order) and the upsert's conflict target.
      CREATE TABLE presences (
        session text NOT NULL,
        chat_id text COLLATE "C" NOT NULL,
        participant text COLLATE "C" NOT NULL,
        last_known_presence text NOT NULL,
        last_seen bigint,
        PRIMARY KEY (session, chat_id, participant)
      );

      -- seq records the order of addition; the unique constraint makes add idempotent.
      CREATE TABLE subscriptions (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        session text NOT NULL,
        chat_id text NOT NULL,
        UNIQUE (session, chat_id)
      );
      -- list(session) reads this index in order, without a sort; the unique index is ordered by chat.
      CREATE INDEX subscriptions_by_session ON subscriptions (session, seq);

      CREATE TABLE settings (
        key text PRIMARY KEY,
        value text NOT NULL
      );

      -- Who runs each session (see leases.ts). owner NULL: released. expires_at in ms.
      CREATE TABLE leases (
        session text COLLATE "C" PRIMARY KEY,
        owner text,
        epoch bigint NOT NULL,
        expires_at bigint NOT NULL
      );
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
        session text COLLATE "C" PRIMARY KEY,
        status text NOT NULL CHECK (status IN ('STOPPED', 'STARTING', 'SCAN_QR_CODE', 'WORKING', 'FAILED')),
        server text NOT NULL,
        epoch bigint NOT NULL,
        engine boolean NOT NULL,
        at bigint NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'subscriptions: since (when each chat was subscribed, for GET /presence/subscriptions)',
    // Nullable: rows from before this migration were stored without a time, and none is made up for them.
    sql: `ALTER TABLE subscriptions ADD COLUMN since bigint;`,
  },
  {
    version: 4,
    name: "session statuses: reason (why the owner's session reached its status, for every server's list)",
    sql: `ALTER TABLE session_statuses ADD COLUMN reason text;`,
  },
  {
    version: 5,
    name: 'presences: last_seen_hidden (WhatsApp said the person hides their last seen)',
    sql: `ALTER TABLE presences ADD COLUMN last_seen_hidden boolean NOT NULL DEFAULT false;`,
  },
  ...POSTGRES_OUTBOX_MIGRATIONS,
  {
    version: 200,
    name: 'servers (several servers: who is alive and where to forward requests, src/cluster)',
    // One row per server id, refreshed by its heartbeat; a row past expires_at is a dead server.
    sql: `
      CREATE TABLE servers (
        id text COLLATE "C" PRIMARY KEY,
        url text NOT NULL,
        started_at bigint NOT NULL,
        expires_at bigint NOT NULL
      );
    `,
  },
  POSTGRES_HISTORY_MIGRATION,
  POSTGRES_HISTORY_COVERING_MIGRATION,
];
