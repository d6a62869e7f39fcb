import type { AttemptOutcome, NewDelivery, OutboxEvent } from '../outbox.js';
import type { PgClient } from './database.js';
import { lockOrderKeys, lockOrderKeysOf } from './outbox-locks.js';

/** One `OutboxStore.enqueue` call, waiting for the group commit (group-commit.ts) to take its batch. */
export interface EnqueueItem {
  readonly event: OutboxEvent;
  readonly deliveries: readonly NewDelivery[];
  readonly now: number;
}

/** One `OutboxStore.complete` call, likewise. */
export interface CompleteItem {
  readonly id: number;
  readonly owner: string;
  readonly outcome: AttemptOutcome;
  readonly now: number;
}

/** Where each distinct key first appears: a later duplicate in a batch behaves as the same call made after it. */
function firstIndexes<K>(keys: readonly K[]): Map<K, number> {
  const firsts = new Map<K, number>();
  keys.forEach((key, index) => {
    if (!firsts.has(key)) firsts.set(key, index);
  });
  return firsts;
}

/**
 * Events and their deliveries, many calls at once: the keys' locks, then one statement. A
 * delivery is the head of its order key (due now) when no delivery of that key is pending already
 * and none comes before it in this batch; ids follow the callers' order (`ORDER BY ord`), so the
 * oldest pending delivery of a key is still its head.
 */
export async function enqueueBatch(client: PgClient, items: readonly EnqueueItem[]): Promise<boolean[]> {
  const firsts = firstIndexes(items.map((item) => item.event.id));
  const candidates = items.filter((item, index) => firsts.get(item.event.id) === index);
  const rows = candidates.flatMap((item) => item.deliveries.map((d) => ({ item, d })));
  // Before the event rows: a transaction never waits for another's event row while holding keys.
  await lockOrderKeys(client, rows.map(({ d }) => d.orderKey));
  const inserted = await client.query<{ id: string }>(
    `WITH new_events AS (
       INSERT INTO outbox_events (id, session, event, body, created_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])
       ON CONFLICT (id) DO NOTHING
       RETURNING id),
     input AS (
       SELECT * FROM unnest($6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[])
         WITH ORDINALITY AS t(event_id, session, event, url, webhook_key, order_key, target, now, ord)
       WHERE t.event_id IN (SELECT id FROM new_events)),
     deliveries AS (
       INSERT INTO outbox_deliveries (event_id, session, event, url, webhook_key, order_key, target, status, next_attempt_at, created_at, updated_at)
       SELECT event_id, session, event, url, webhook_key, order_key, target, 'pending',
         CASE WHEN row_number() OVER (PARTITION BY order_key ORDER BY ord) = 1
               AND NOT EXISTS (SELECT 1 FROM outbox_deliveries p WHERE p.order_key = input.order_key AND p.status = 'pending')
              THEN now END,
         now, now
       FROM input ORDER BY ord
       RETURNING 1)
     SELECT id FROM new_events`,
    [
      candidates.map((item) => item.event.id),
      candidates.map((item) => item.event.session),
      candidates.map((item) => item.event.event),
      candidates.map((item) => item.event.body),
      candidates.map((item) => item.now),
      rows.map(({ item }) => item.event.id),
      rows.map(({ item }) => item.event.session),
      rows.map(({ item }) => item.event.event),
      rows.map(({ d }) => d.url),
      rows.map(({ d }) => d.webhookKey),
      rows.map(({ d }) => d.orderKey),
      rows.map(({ d }) => d.target),
      rows.map(({ item }) => item.now),
    ],
  );
  const created = new Set(inserted.rows.map((row) => row.id));
  return items.map((item, index) => firsts.get(item.event.id) === index && created.has(item.event.id));
}

/**
 * Outcomes of many attempts at once: the order keys of the finished ones locked, then one
 * statement records every outcome (only where the claim is still the caller's) and makes the
 * successor of each finished head due: the oldest pending delivery of its key, as before.
 */
export async function completeBatch(client: PgClient, items: readonly CompleteItem[]): Promise<boolean[]> {
  const firsts = firstIndexes(items.map((item) => item.id));
  const unique = items.filter((item, index) => firsts.get(item.id) === index);
  // A retried head stays the head: only final outcomes change which delivery heads a key.
  await lockOrderKeysOf(
    client,
    unique.filter((item) => item.outcome.kind !== 'retry').map((item) => item.id),
  );
  const done = await client.query<{ id: string }>(
    // Every read of outbox_deliveries here is by primary key or one index probe per order key
    // (never a join the planner could turn into a scan of the backlog, whatever its statistics).
    `WITH done AS (
       UPDATE outbox_deliveries d SET
         status = CASE i.kind WHEN 'retry' THEN 'pending' ELSE i.kind END,
         attempts = d.attempts + 1, last_status = i.status, last_error = i.error, next_attempt_at = i.next_at,
         claimed_by = NULL, claim_until = 0,
         delivered_at = CASE i.kind WHEN 'delivered' THEN i.now ELSE d.delivered_at END,
         updated_at = i.now
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::bigint[], $7::bigint[])
         AS i(id, owner, kind, status, error, next_at, now)
       WHERE d.id = ANY ($1::bigint[]) AND d.id = i.id AND d.claimed_by = i.owner AND d.status = 'pending'
       RETURNING d.id, d.order_key, d.status, i.now),
     -- This statement still sees the finished heads as pending: they are left out by id.
     promoted AS (
       UPDATE outbox_deliveries d SET next_attempt_at = (SELECT max(f.now) FROM done f WHERE f.order_key = d.order_key)
       WHERE d.id = ANY (ARRAY(
           SELECT (SELECT p.id FROM outbox_deliveries p
                   WHERE p.order_key = f.order_key AND p.status = 'pending' AND p.id NOT IN (SELECT id FROM done)
                   ORDER BY p.id LIMIT 1)
           FROM done f WHERE f.status <> 'pending'))
         AND d.next_attempt_at IS NULL
       RETURNING 1)
     SELECT id FROM done`,
    [
      unique.map((item) => item.id),
      unique.map((item) => item.owner),
      unique.map((item) => item.outcome.kind),
      unique.map((item) => item.outcome.status),
      unique.map((item) => (item.outcome.kind === 'delivered' ? null : item.outcome.error)),
      unique.map((item) => (item.outcome.kind === 'retry' ? item.outcome.nextAttemptAt : null)),
      unique.map((item) => item.now),
    ],
  );
  const recorded = new Set(done.rows.map((row) => Number(row.id)));
  return items.map((item, index) => firsts.get(item.id) === index && recorded.has(item.id));
}
