import type { AttemptOutcome, ClaimedDelivery, DeliveryRecord, DeliveryStatus, OutboxStore, ReplayResult } from '../outbox.js';
import type { PgClient, PgPool } from './database.js';
import { inTransaction } from './database.js';

// bigint columns come back from node-postgres as strings; every value here is far below 2^53.
interface DeliveryRow {
  id: string;
  event_id: string;
  session: string;
  event: string;
  url: string;
  webhook_key: string;
  order_key: string;
  target: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: string | null;
  claim_until: string;
  last_error: string | null;
  last_status: number | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
}

const num = (value: string): number => Number(value);
const numOrNull = (value: string | null): number | null => (value === null ? null : Number(value));

function toRecord(row: DeliveryRow): DeliveryRecord {
  return {
    id: num(row.id),
    eventId: row.event_id,
    event: row.event,
    url: row.url,
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    lastStatus: row.last_status,
    nextAttemptAt: row.status === 'pending' ? numOrNull(row.next_attempt_at) : null,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
    deliveredAt: numOrNull(row.delivered_at),
  };
}

/**
 * Several servers may share the database. Two things keep them apart:
 * - claims: `FOR UPDATE SKIP LOCKED` picks rows no other transaction is claiming, and the lease
 *   (`claim_until`) keeps them out of every other server's claims until it runs out;
 * - heads of order keys: every transaction that can change which delivery heads an order key
 *   (enqueue, a final outcome, drop, replay) first takes a transaction advisory lock per key, in
 *   a fixed (sorted) order so two of them cannot deadlock.
 */
export function createPostgresOutboxStore(pool: PgPool): OutboxStore {
  async function lockOrderKeys(client: PgClient, keys: Iterable<string>): Promise<void> {
    const unique = [...new Set(keys)];
    if (unique.length === 0) return;
    await client.query(
      `SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest($1::text[]) AS k ORDER BY h) AS sorted`,
      [unique],
    );
  }

  async function promoteHead(client: PgClient, orderKey: string, now: number): Promise<void> {
    await client.query(
      `UPDATE outbox_deliveries SET next_attempt_at = $1
       WHERE id = (SELECT MIN(id) FROM outbox_deliveries WHERE order_key = $2 AND status = 'pending') AND next_attempt_at IS NULL`,
      [now, orderKey],
    );
  }

  async function insertDelivery(
    client: PgClient,
    d: { eventId: string; session: string; event: string; url: string; webhookKey: string; orderKey: string; target: string },
    now: number,
  ): Promise<number> {
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO outbox_deliveries (event_id, session, event, url, webhook_key, order_key, target, status, next_attempt_at, created_at, updated_at)
       SELECT $1, $2, $3, $4, $5, $6, $7, 'pending',
         CASE WHEN EXISTS (SELECT 1 FROM outbox_deliveries WHERE order_key = $6 AND status = 'pending') THEN NULL ELSE $8::bigint END, $8, $8
       RETURNING id`,
      [d.eventId, d.session, d.event, d.url, d.webhookKey, d.orderKey, d.target, now],
    );
    const id = rows[0]?.id;
    if (id === undefined) throw new Error('delivery insert returned no id');
    return num(id);
  }

  const store: OutboxStore = {
    enqueue: (event, deliveries, now) =>
      inTransaction(pool, async (client) => {
        const inserted = await client.query(
          'INSERT INTO outbox_events (id, session, event, body, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING',
          [event.id, event.session, event.event, event.body, now],
        );
        if (inserted.rowCount === 0) return false;
        await lockOrderKeys(client, deliveries.map((d) => d.orderKey));
        for (const d of deliveries) {
          await insertDelivery(client, { eventId: event.id, session: event.session, event: event.event, ...d }, now);
        }
        return true;
      }),

    claim: async (request) => {
      const { rows } = await pool.query<DeliveryRow & { body: string }>(
        `WITH due AS (
           SELECT id FROM outbox_deliveries
           WHERE status = 'pending' AND next_attempt_at IS NOT NULL AND next_attempt_at <= $1 AND claim_until <= $1
             AND NOT (webhook_key = ANY ($2::text[]))
           ORDER BY next_attempt_at, id
           LIMIT $3
           FOR UPDATE SKIP LOCKED)
         UPDATE outbox_deliveries d SET claimed_by = $4, claim_until = $5
         FROM due WHERE d.id = due.id
         RETURNING d.*, (SELECT body FROM outbox_events e WHERE e.id = d.event_id) AS body`,
        [request.now, request.excludeWebhookKeys, request.limit, request.owner, request.now + request.leaseMs],
      );
      return rows
        .map(
          (row): ClaimedDelivery => ({
            id: num(row.id),
            eventId: row.event_id,
            session: row.session,
            event: row.event,
            url: row.url,
            webhookKey: row.webhook_key,
            orderKey: row.order_key,
            target: row.target,
            attempts: row.attempts,
            body: row.body,
          }),
        )
        .sort((a, b) => a.id - b.id);
    },

    complete: async (id, owner, outcome: AttemptOutcome, now) => {
      if (outcome.kind === 'retry') {
        // The head stays the head: no order key lock needed.
        const updated = await pool.query(
          `UPDATE outbox_deliveries SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2, last_status = $3,
             claimed_by = NULL, claim_until = 0, updated_at = $4
           WHERE id = $5 AND claimed_by = $6 AND status = 'pending'`,
          [outcome.nextAttemptAt, outcome.error, outcome.status, now, id, owner],
        );
        return updated.rowCount === 1;
      }
      return inTransaction(pool, async (client) => {
        const found = await client.query<{ order_key: string }>(
          "SELECT order_key FROM outbox_deliveries WHERE id = $1 AND claimed_by = $2 AND status = 'pending'",
          [id, owner],
        );
        const orderKey = found.rows[0]?.order_key;
        if (orderKey === undefined) return false;
        await lockOrderKeys(client, [orderKey]);
        const updated =
          outcome.kind === 'delivered'
            ? await client.query(
                `UPDATE outbox_deliveries SET status = 'delivered', attempts = attempts + 1, last_status = $1, last_error = NULL,
                   next_attempt_at = NULL, claimed_by = NULL, claim_until = 0, delivered_at = $2, updated_at = $2
                 WHERE id = $3 AND claimed_by = $4 AND status = 'pending'`,
                [outcome.status, now, id, owner],
              )
            : await client.query(
                `UPDATE outbox_deliveries SET status = 'failed', attempts = attempts + 1, last_error = $1, last_status = $2,
                   next_attempt_at = NULL, claimed_by = NULL, claim_until = 0, updated_at = $3
                 WHERE id = $4 AND claimed_by = $5 AND status = 'pending'`,
                [outcome.error, outcome.status, now, id, owner],
              );
        if (updated.rowCount !== 1) return false;
        await promoteHead(client, orderKey, now);
        return true;
      });
    },

    release: async (ids, owner) => {
      if (ids.length === 0) return;
      await pool.query(
        "UPDATE outbox_deliveries SET claimed_by = NULL, claim_until = 0 WHERE id = ANY ($1::bigint[]) AND claimed_by = $2 AND status = 'pending'",
        [ids, owner],
      );
    },

    // Other servers may be alive on this database: only this owner's claims are known to be dead.
    recoverClaims: async (owner) => {
      const released = await pool.query(
        "UPDATE outbox_deliveries SET claimed_by = NULL, claim_until = 0 WHERE claimed_by = $1 AND status = 'pending'",
        [owner],
      );
      return released.rowCount ?? 0;
    },

    nextDueAt: async () => {
      const { rows } = await pool.query<{ at: string | null }>(
        `SELECT MIN(GREATEST(next_attempt_at, claim_until)) AS at FROM outbox_deliveries
         WHERE status = 'pending' AND next_attempt_at IS NOT NULL`,
      );
      return numOrNull(rows[0]?.at ?? null);
    },

    countPending: async () => {
      const { rows } = await pool.query<{ n: string }>("SELECT COUNT(*) AS n FROM outbox_deliveries WHERE status = 'pending'");
      return num(rows[0]?.n ?? '0');
    },

    enforceCap: (maxPending, now) =>
      inTransaction(pool, async (client) => {
        const counted = await client.query<{ n: string }>("SELECT COUNT(*) AS n FROM outbox_deliveries WHERE status = 'pending'");
        const excess = num(counted.rows[0]?.n ?? '0') - maxPending;
        if (excess <= 0) return 0;
        const candidates = await client.query<{ id: string; order_key: string }>(
          "SELECT id, order_key FROM outbox_deliveries WHERE status = 'pending' AND claim_until <= $1 ORDER BY id LIMIT $2",
          [now, excess],
        );
        const keys = candidates.rows.map((row) => row.order_key);
        await lockOrderKeys(client, keys);
        const dropped = await client.query<{ order_key: string }>(
          `UPDATE outbox_deliveries SET status = 'dropped', last_error = $1, claimed_by = NULL, claim_until = 0, updated_at = $2
           WHERE id = ANY ($3::bigint[]) AND status = 'pending' AND claim_until <= $2
           RETURNING order_key`,
          [`dropped: the outbox holds at most ${maxPending} pending deliveries`, now, candidates.rows.map((row) => row.id)],
        );
        for (const key of new Set(dropped.rows.map((row) => row.order_key))) await promoteHead(client, key, now);
        return dropped.rowCount ?? 0;
      }),

    list: async (session, query) => {
      const before = query.before ?? Number.MAX_SAFE_INTEGER;
      const { rows } =
        query.status === null
          ? await pool.query<DeliveryRow>('SELECT * FROM outbox_deliveries WHERE session = $1 AND id < $2 ORDER BY id DESC LIMIT $3', [
              session,
              before,
              query.limit,
            ])
          : await pool.query<DeliveryRow>(
              'SELECT * FROM outbox_deliveries WHERE session = $1 AND status = $2 AND id < $3 ORDER BY id DESC LIMIT $4',
              [session, query.status, before, query.limit],
            );
      return rows.map(toRecord);
    },

    replay: (session, id, now) =>
      inTransaction(pool, async (client): Promise<ReplayResult> => {
        const found = await client.query<DeliveryRow>('SELECT * FROM outbox_deliveries WHERE id = $1 AND session = $2', [id, session]);
        const row = found.rows[0];
        if (row === undefined) return { kind: 'not-found' };
        if (row.status === 'pending') return { kind: 'pending' };
        await lockOrderKeys(client, [row.order_key]);
        const newId = await insertDelivery(
          client,
          {
            eventId: row.event_id,
            session: row.session,
            event: row.event,
            url: row.url,
            webhookKey: row.webhook_key,
            orderKey: row.order_key,
            target: row.target,
          },
          now,
        );
        return { kind: 'replayed', id: newId };
      }),

    prune: (before, limit) =>
      inTransaction(pool, async (client) => {
        const deleted = await client.query<{ event_id: string }>(
          `DELETE FROM outbox_deliveries WHERE id IN (
             SELECT id FROM outbox_deliveries WHERE status <> 'pending' AND updated_at < $1 LIMIT $2)
           RETURNING event_id`,
          [before, limit],
        );
        // Only events whose deliveries were just deleted are looked at: never a scan of every event.
        const events = [...new Set(deleted.rows.map((row) => row.event_id))];
        if (events.length > 0) {
          await client.query(
            'DELETE FROM outbox_events e WHERE e.id = ANY ($1::text[]) AND NOT EXISTS (SELECT 1 FROM outbox_deliveries d WHERE d.event_id = e.id)',
            [events],
          );
        }
        return deleted.rowCount ?? 0;
      }),
  };
  return store satisfies OutboxStore;
}
