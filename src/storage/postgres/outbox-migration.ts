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

/**
 * A group commit's accept and its outcomes each in one round trip: the function takes the order
 * keys' advisory locks, then writes, inside the single statement's own transaction. Sent as
 * BEGIN, the locks, the write and COMMIT, that was four round trips a batch, and on a database
 * short of CPU each waited its turn. In READ COMMITTED every statement of a VOLATILE function
 * takes a new snapshot, so the write sees what the lock holders committed before the locks were
 * granted, as the separate statements did. Custom plans as before (the arrays' sizes vary by
 * batch); the search path is the schema's, fixed at creation.
 *
 * Both hand deliveries to the caller's worker (`enqueueAndClaim`, `completeAndClaim`): a head
 * whose caller has a slot for it is written claimed, and a finished head's successor is claimed
 * for the caller that asked, so neither waits for a claim pass. Each answers one jsonb value.
 */
/** What both batch functions are: plpgsql answering one jsonb `result`, custom plans, the schema's search path. */
const BATCH_FUNCTION_HEAD = `RETURNS jsonb LANGUAGE plpgsql VOLATILE
    SET search_path FROM CURRENT SET plan_cache_mode = force_custom_plan
    AS $fn$
    DECLARE
      result jsonb;
    BEGIN`;

export const POSTGRES_OUTBOX_BATCH_FUNCTIONS_MIGRATION: Migration = {
  version: 102,
  name: 'webhook outbox: accept and outcome batches as functions (one round trip each), with hand-off',
  sql: `
    -- {"events": [new event ids], "written": [[delivery id, claimed], …] in id order}
    CREATE FUNCTION outbox_enqueue_batch(
      p_event_ids text[], p_event_sessions text[], p_event_names text[], p_bodies text[], p_event_now bigint[],
      p_d_event_ids text[], p_d_sessions text[], p_d_events text[], p_urls text[], p_webhook_keys text[],
      p_order_keys text[], p_targets text[], p_d_now bigint[], p_claim_by text[], p_claim_until bigint[])
    ${BATCH_FUNCTION_HEAD}
      -- Before the event rows: a transaction never waits for another's event row while holding keys.
      PERFORM pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(p_order_keys) AS k ORDER BY h) AS sorted;
      WITH new_events AS (
         INSERT INTO outbox_events (id, session, event, body, created_at)
         SELECT * FROM unnest(p_event_ids, p_event_sessions, p_event_names, p_bodies, p_event_now)
         ON CONFLICT (id) DO NOTHING
         RETURNING outbox_events.id),
       input AS (
         SELECT * FROM unnest(p_d_event_ids, p_d_sessions, p_d_events, p_urls, p_webhook_keys, p_order_keys, p_targets, p_d_now,
             p_claim_by, p_claim_until)
           WITH ORDINALITY AS t(event_id, session, event, url, webhook_key, order_key, target, now, claim_by, claim_until, ord)
         WHERE t.event_id IN (SELECT new_events.id FROM new_events)),
       heads AS (
         SELECT input.*, (row_number() OVER (PARTITION BY input.order_key ORDER BY input.ord) = 1
             AND NOT EXISTS (SELECT 1 FROM outbox_deliveries p WHERE p.order_key = input.order_key AND p.status = 'pending')) AS head
         FROM input),
       deliveries AS (
         INSERT INTO outbox_deliveries (event_id, session, event, url, webhook_key, order_key, target, status, next_attempt_at,
           claimed_by, claim_until, created_at, updated_at)
         SELECT heads.event_id, heads.session, heads.event, heads.url, heads.webhook_key, heads.order_key, heads.target, 'pending',
           CASE WHEN heads.head THEN heads.now END,
           CASE WHEN heads.head THEN heads.claim_by END,
           CASE WHEN heads.head AND heads.claim_by IS NOT NULL THEN heads.claim_until ELSE 0 END,
           heads.now, heads.now
         FROM heads ORDER BY heads.ord
         RETURNING outbox_deliveries.id, outbox_deliveries.claimed_by IS NOT NULL AS claimed)
      SELECT jsonb_build_object(
          'events', COALESCE((SELECT jsonb_agg(new_events.id) FROM new_events), '[]'::jsonb),
          'written', COALESCE((SELECT jsonb_agg(jsonb_build_array(deliveries.id, deliveries.claimed) ORDER BY deliveries.id) FROM deliveries), '[]'::jsonb))
        INTO result;
      RETURN result;
    END
    $fn$;

    -- {"done": [recorded ids], "successors": [claimed successor rows, with done_id and body]}.
    -- Commits without waiting for the disk unless it claimed a successor: an outcome a database
    -- crash loses is at worst sent again, but a claim must outlive a crash (see outbox.ts).
    CREATE FUNCTION outbox_complete_batch(
      p_ids bigint[], p_owners text[], p_kinds text[], p_statuses integer[], p_errors text[], p_next_at bigint[], p_now bigint[],
      p_final_ids bigint[], p_claim_by text[], p_claim_until bigint[])
    ${BATCH_FUNCTION_HEAD}
      -- A retried head stays the head: only final outcomes change which delivery heads a key.
      PERFORM pg_advisory_xact_lock(h) FROM (
        SELECT DISTINCT hashtextextended(order_key, 0) AS h FROM outbox_deliveries WHERE id = ANY (p_final_ids) AND status = 'pending' ORDER BY h
      ) AS sorted;
      -- Every read of outbox_deliveries here is by primary key or one index probe per order key
      -- (never a join the planner could turn into a scan of the backlog, whatever its statistics).
      WITH done AS (
         UPDATE outbox_deliveries d SET
           status = CASE i.kind WHEN 'retry' THEN 'pending' ELSE i.kind END,
           attempts = d.attempts + 1, last_status = i.status, last_error = i.error, next_attempt_at = i.next_at,
           claimed_by = NULL, claim_until = 0,
           delivered_at = CASE i.kind WHEN 'delivered' THEN i.now ELSE d.delivered_at END,
           updated_at = i.now
         FROM unnest(p_ids, p_owners, p_kinds, p_statuses, p_errors, p_next_at, p_now, p_claim_by, p_claim_until)
           AS i(id, owner, kind, status, error, next_at, now, claim_by, claim_until)
         WHERE d.id = ANY (p_ids) AND d.id = i.id AND d.claimed_by = i.owner AND d.status = 'pending'
         RETURNING d.id, d.order_key, d.status, i.now, i.claim_by, i.claim_until),
       -- This statement still sees the finished heads as pending: they are left out by id.
       successors AS MATERIALIZED (
         SELECT f.id AS done_id, f.now, f.claim_by, f.claim_until,
           (SELECT p.id FROM outbox_deliveries p
            WHERE p.order_key = f.order_key AND p.status = 'pending' AND p.id NOT IN (SELECT done.id FROM done)
            ORDER BY p.id LIMIT 1) AS next_id
         FROM done f WHERE f.status <> 'pending'),
       promoted AS (
         UPDATE outbox_deliveries d SET
           next_attempt_at = s.now,
           claimed_by = CASE WHEN s.claim_by IS NULL THEN d.claimed_by ELSE s.claim_by END,
           claim_until = CASE WHEN s.claim_by IS NULL THEN d.claim_until ELSE s.claim_until END
         FROM successors s
         WHERE d.id = ANY (ARRAY(SELECT successors.next_id FROM successors WHERE successors.next_id IS NOT NULL))
           AND d.id = s.next_id AND d.next_attempt_at IS NULL
         RETURNING s.done_id, s.claim_by IS NOT NULL AS claimed, d.id, d.event_id, d.session, d.event, d.url, d.webhook_key,
           d.order_key, d.target, d.attempts, (SELECT e.body FROM outbox_events e WHERE e.id = d.event_id) AS body)
      SELECT jsonb_build_object(
          'done', COALESCE((SELECT jsonb_agg(done.id) FROM done), '[]'::jsonb),
          'successors', COALESCE((SELECT jsonb_agg(to_jsonb(promoted) - 'claimed') FROM promoted WHERE promoted.claimed), '[]'::jsonb))
        INTO result;
      IF jsonb_array_length(result -> 'successors') = 0 THEN
        PERFORM set_config('synchronous_commit', 'off', true);
      END IF;
      RETURN result;
    END
    $fn$;
  `,
};

/** The outbox's migrations, in order (the core list includes them; the outbox's tests apply only these). */
export const POSTGRES_OUTBOX_MIGRATIONS: readonly Migration[] = [
  POSTGRES_OUTBOX_MIGRATION,
  POSTGRES_OUTBOX_CANCELLED_MIGRATION,
  POSTGRES_OUTBOX_BATCH_FUNCTIONS_MIGRATION,
];
