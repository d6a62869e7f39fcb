import type { Migration } from '../migration.js';

/**
 * The outbox's tables, the same shape and semantics as sqlite/outbox-migration.ts. Version 100
 * (the outbox's own range, 100–199) so that it never collides with the core schema's versions.
 */
export const POSTGRES_OUTBOX_MIGRATION: Migration = {
  version: 100,
  name: 'webhook outbox: events and deliveries',
  sql: `
    CREATE TABLE outbox_events (
      id text COLLATE "C" PRIMARY KEY,
      session text NOT NULL,
      event text NOT NULL,
      body text NOT NULL,
      created_at bigint NOT NULL
    );

    -- See the SQLite migration: next_attempt_at is set on the head of each order key only, so the
    -- due scan reads heads, however long a dead receiver's backlog is. claim_until 0: not claimed.
    CREATE TABLE outbox_deliveries (
      id bigserial PRIMARY KEY,
      event_id text COLLATE "C" NOT NULL REFERENCES outbox_events (id),
      session text COLLATE "C" NOT NULL,
      event text NOT NULL,
      url text NOT NULL,
      webhook_key text NOT NULL,
      order_key text NOT NULL,
      target text NOT NULL,
      status text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'dropped')),
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at bigint,
      claimed_by text,
      claim_until bigint NOT NULL DEFAULT 0,
      last_error text,
      last_status integer,
      created_at bigint NOT NULL,
      updated_at bigint NOT NULL,
      delivered_at bigint
    );
    CREATE INDEX outbox_due ON outbox_deliveries (next_attempt_at, id) WHERE status = 'pending' AND next_attempt_at IS NOT NULL;
    CREATE INDEX outbox_pending_by_order ON outbox_deliveries (order_key, id) WHERE status = 'pending';
    CREATE INDEX outbox_pending ON outbox_deliveries (id) WHERE status = 'pending';
    CREATE INDEX outbox_by_session ON outbox_deliveries (session, status, id);
    CREATE INDEX outbox_finished ON outbox_deliveries (updated_at) WHERE status <> 'pending';
    CREATE INDEX outbox_by_event ON outbox_deliveries (event_id);
  `,
};

/** A delivery can be `cancelled` (its session was deleted: `OutboxStore.cancelSession`). */
export const POSTGRES_OUTBOX_CANCELLED_MIGRATION: Migration = {
  version: 101,
  name: 'webhook outbox: cancelled deliveries (a deleted session ends its deliveries)',
  sql: `
    ALTER TABLE outbox_deliveries DROP CONSTRAINT outbox_deliveries_status_check;
    ALTER TABLE outbox_deliveries ADD CONSTRAINT outbox_deliveries_status_check
      CHECK (status IN ('pending', 'delivered', 'failed', 'dropped', 'cancelled'));
  `,
};
