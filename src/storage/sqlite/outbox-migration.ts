import type { Migration } from '../migration.js';

/**
 * The outbox's tables. Version 100 (the outbox's own range, 100–199) so that it never collides
 * with the core schema's versions, which grow from 1.
 */
export const SQLITE_OUTBOX_MIGRATION: Migration = {
  version: 100,
  name: 'webhook outbox: events and deliveries',
  sql: `
    CREATE TABLE outbox_events (
      id TEXT PRIMARY KEY,
      session TEXT NOT NULL,
      event TEXT NOT NULL,
      body TEXT NOT NULL,
      created_at INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;

    -- id (the rowid) is the order of acceptance: order keys are served lowest id first.
    -- next_attempt_at is NULL while a delivery waits behind an older pending one of its order key
    -- (and once finished): only the head of each order key carries a time, so the due scan reads
    -- heads only, however long a dead receiver's backlog is. claim_until 0: not claimed.
    CREATE TABLE outbox_deliveries (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      event_id TEXT NOT NULL REFERENCES outbox_events (id),
      session TEXT NOT NULL,
      event TEXT NOT NULL,
      url TEXT NOT NULL,
      webhook_key TEXT NOT NULL,
      order_key TEXT NOT NULL,
      target TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'dropped')),
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at INTEGER,
      claimed_by TEXT,
      claim_until INTEGER NOT NULL DEFAULT 0,
      last_error TEXT,
      last_status INTEGER,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      delivered_at INTEGER
    ) STRICT;
    CREATE INDEX outbox_due ON outbox_deliveries (next_attempt_at) WHERE status = 'pending' AND next_attempt_at IS NOT NULL;
    -- Head of an order key, "is there a pending one", the pending count and the cap's oldest-first.
    CREATE INDEX outbox_pending_by_order ON outbox_deliveries (order_key, id) WHERE status = 'pending';
    CREATE INDEX outbox_pending ON outbox_deliveries (id) WHERE status = 'pending';
    CREATE INDEX outbox_by_session ON outbox_deliveries (session, status, id);
    CREATE INDEX outbox_finished ON outbox_deliveries (updated_at) WHERE status <> 'pending';
    CREATE INDEX outbox_by_event ON outbox_deliveries (event_id);
  `,
};

/**
 * A delivery can be `cancelled` (its session was deleted: `OutboxStore.cancelSession`). SQLite
 * cannot change a CHECK constraint, so the table is rebuilt: same columns, rows and ids, the
 * AUTOINCREMENT counter carried over (pruned ids are never reused), the indexes made again.
 */
export const SQLITE_OUTBOX_CANCELLED_MIGRATION: Migration = {
  version: 101,
  name: 'webhook outbox: cancelled deliveries (a deleted session ends its deliveries)',
  sql: `
    CREATE TABLE outbox_deliveries_new (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      event_id TEXT NOT NULL REFERENCES outbox_events (id),
      session TEXT NOT NULL,
      event TEXT NOT NULL,
      url TEXT NOT NULL,
      webhook_key TEXT NOT NULL,
      order_key TEXT NOT NULL,
      target TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'dropped', 'cancelled')),
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at INTEGER,
      claimed_by TEXT,
      claim_until INTEGER NOT NULL DEFAULT 0,
      last_error TEXT,
      last_status INTEGER,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      delivered_at INTEGER
    ) STRICT;
    INSERT INTO outbox_deliveries_new SELECT * FROM outbox_deliveries;
    DELETE FROM sqlite_sequence WHERE name = 'outbox_deliveries_new';
    INSERT INTO sqlite_sequence (name, seq) SELECT 'outbox_deliveries_new', seq FROM sqlite_sequence WHERE name = 'outbox_deliveries';
    DROP TABLE outbox_deliveries;
    ALTER TABLE outbox_deliveries_new RENAME TO outbox_deliveries;
    CREATE INDEX outbox_due ON outbox_deliveries (next_attempt_at) WHERE status = 'pending' AND next_attempt_at IS NOT NULL;
    CREATE INDEX outbox_pending_by_order ON outbox_deliveries (order_key, id) WHERE status = 'pending';
    CREATE INDEX outbox_pending ON outbox_deliveries (id) WHERE status = 'pending';
    CREATE INDEX outbox_by_session ON outbox_deliveries (session, status, id);
    CREATE INDEX outbox_finished ON outbox_deliveries (updated_at) WHERE status <> 'pending';
    CREATE INDEX outbox_by_event ON outbox_deliveries (event_id);
  `,
};
