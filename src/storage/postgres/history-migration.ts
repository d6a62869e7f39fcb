import type { Migration } from '../migration.js';

/** Presence history's tables: version 300 (history's own range, 300–399), as on SQLite. */
export const POSTGRES_HISTORY_MIGRATION: Migration = {
  version: 300,
  name: 'presence history: changes, listening gaps, listening markers',
  // Two narrow indexes, as on SQLite: by chat (range query) and by time (export, retention); id is
  // the keyset tie-break of equal times. COLLATE "C": byte order, as SQLite compares.
  sql: `
    CREATE TABLE presence_history (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      session text COLLATE "C" NOT NULL,
      chat_id text COLLATE "C" NOT NULL,
      participant text COLLATE "C" NOT NULL,
      presence text NOT NULL CHECK (presence IN ('online', 'offline', 'typing', 'recording', 'paused')),
      at bigint NOT NULL,
      last_seen bigint
    );
    CREATE INDEX presence_history_by_chat ON presence_history (session, chat_id, participant, at);
    CREATE INDEX presence_history_by_time ON presence_history (session, at, id);

    CREATE TABLE presence_history_gaps (
      session text COLLATE "C" NOT NULL,
      from_at bigint NOT NULL,
      to_at bigint,
      PRIMARY KEY (session, from_at)
    );

    CREATE TABLE presence_history_listening (
      session text COLLATE "C" PRIMARY KEY,
      since bigint NOT NULL,
      alive_at bigint NOT NULL
    );
  `,
};

/**
 * As on SQLite: the range query of one chat is answered by an index-only scan (the table's
 * visibility map is kept by autovacuum, which PostgreSQL 13+ also runs on insert-only tables)
 * instead of one heap fetch per row scattered over the table.
 */
export const POSTGRES_HISTORY_COVERING_MIGRATION: Migration = {
  version: 301,
  name: 'presence history: the by-chat index covers the range query',
  sql: `
    DROP INDEX presence_history_by_chat;
    CREATE INDEX presence_history_by_chat ON presence_history (session, chat_id, participant, at, id) INCLUDE (presence, last_seen);
  `,
};
