import type { Migration } from '../migration.js';

/**
 * Presence history's tables. Version 300 (history's own range, 300–399), like the outbox's 100, so
 * that it never collides with the core schema's versions.
 */
export const SQLITE_HISTORY_MIGRATION: Migration = {
  version: 300,
  name: 'presence history: changes, listening gaps, listening markers',
  // A rowid table with two narrow indexes: by chat (the route's range query: session, chat,
  // participant, time) and by time (export in time order, retention by age per session). The rowid
  // is the keyset tie-break of equal times.
  sql: `
    CREATE TABLE presence_history (
      id INTEGER PRIMARY KEY,
      session TEXT NOT NULL,
      chat_id TEXT NOT NULL,
      participant TEXT NOT NULL,
      presence TEXT NOT NULL CHECK (presence IN ('online', 'offline', 'typing', 'recording', 'paused')),
      at INTEGER NOT NULL,
      last_seen INTEGER
    ) STRICT;
    CREATE INDEX presence_history_by_chat ON presence_history (session, chat_id, participant, at);
    CREATE INDEX presence_history_by_time ON presence_history (session, at);

    CREATE TABLE presence_history_gaps (
      session TEXT NOT NULL,
      from_at INTEGER NOT NULL,
      to_at INTEGER,
      PRIMARY KEY (session, from_at)
    ) STRICT, WITHOUT ROWID;

    -- A row while a session listens; alive_at is its last heartbeat. A row found at the next start
    -- means the server died while listening: the gap starts at alive_at.
    CREATE TABLE presence_history_listening (
      session TEXT PRIMARY KEY,
      since INTEGER NOT NULL,
      alive_at INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
  `,
};

/**
 * The range query of one chat reads a contact's rows scattered over the whole table (changes arrive
 * interleaved across chats): one table lookup per row made a 30-day query of one contact among 10
 * million changes take ~30 ms. The by-chat index now carries every column the query reads, so it
 * is answered from contiguous index pages alone (id spelled out: the route orders by it).
 */
export const SQLITE_HISTORY_COVERING_MIGRATION: Migration = {
  version: 301,
  name: 'presence history: the by-chat index covers the range query',
  sql: `
    DROP INDEX presence_history_by_chat;
    CREATE INDEX presence_history_by_chat ON presence_history (session, chat_id, participant, at, id, presence, last_seen);
  `,
};
