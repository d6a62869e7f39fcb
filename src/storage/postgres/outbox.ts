import type { CompleteClaimed, DeliveryRecord, DeliveryStatus, EnqueueClaimed, OutboxStore, ReplayResult } from '../outbox.js';
import { claimedFromRow } from '../outbox.js';
import type { PgClient, PgPool } from './database.js';
import { inTransaction } from './database.js';
import { createGroupCommit } from './group-commit.js';
import { completeBatch, enqueueBatch } from './outbox-batches.js';
import type { CompleteItem, EnqueueItem } from './outbox-batches.js';
import { cancelSessionDeliveries } from './outbox-cancel.js';
import { lockOrderKeys, MAX_BATCH_WEIGHT } from './outbox-locks.js';

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
 *
 * Accepts and outcomes are group-committed (see group-commit.ts): the calls that arrive while one
 * transaction commits share the next one, so a busy server writes a few transactions a second of
 * many rows each instead of one transaction (and one WAL flush) per event and per delivery. An
 * accept still resolves only once its own transaction committed and reached the disk. Outcomes
 * are committed without waiting for the disk: an outcome written a moment later than its answer
 * arrived, or lost in a database crash, is at worst sent again (at least once, as always). Claims
 * stay synchronous: a claim lost in a database crash could let a second server send a delivery
 * the first is still sending. So an outcome batch that claims a successor for its caller
 * (`completeAndClaim`) waits for the disk, and an accept that claims (`enqueueAndClaim`) does as
 * every accept. Both batches are one round trip each (functions of outbox-migration.ts).
 */
export function createPostgresOutboxStore(pool: PgPool): OutboxStore {
  async function promoteHead(client: PgClient, orderKey: string, now: number): Promise<void> {
    await client.query(
      `UPDATE outbox_deliveries SET next_attempt_at = $1
       WHERE id = (SELECT MIN(id) FROM outbox_deliveries WHERE order_key = $2 AND status = 'pending') AND next_attempt_at IS NULL`,
      [now, orderKey],
    );
  }
  /** Drops the `count` oldest unclaimed pending deliveries (past the cap `maxPending`) in one transaction. */
  function dropChunk(maxPending: number, count: number, now: number): Promise<number> {
    return inTransaction(pool, async (client) => {
      const candidates = await client.query<{ id: string; order_key: string }>(
        "SELECT id, order_key FROM outbox_deliveries WHERE status = 'pending' AND claim_until <= $1 ORDER BY id LIMIT $2",
        [now, count],
      );
      await lockOrderKeys(client, candidates.rows.map((row) => row.order_key));
      const dropped = await client.query<{ order_key: string }>(
        `UPDATE outbox_deliveries SET status = 'dropped', last_error = $1, claimed_by = NULL, claim_until = 0, updated_at = $2
         WHERE id = ANY ($3::bigint[]) AND status = 'pending' AND claim_until <= $2
         RETURNING order_key`,
        [`dropped: the outbox holds at most ${maxPending} pending deliveries`, now, candidates.rows.map((row) => row.id)],
      );
      for (const key of new Set(dropped.rows.map((row) => row.order_key))) await promoteHead(client, key, now);
      return dropped.rowCount ?? 0;
    });
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

  const enqueue = createGroupCommit<EnqueueItem, EnqueueClaimed>({
    runBatch: (items) => enqueueBatch(pool, items),
    weight: (item) => Math.max(1, item.deliveries.length),
    maxWeight: MAX_BATCH_WEIGHT,
    // Publishes of one session are awaited one by one: a microtask adds no wait to them, and the
    // batch in flight collects the rest.
    schedule: queueMicrotask,
  });

  const complete = createGroupCommit<CompleteItem, CompleteClaimed>({
    // Without waiting for the disk unless a successor was claimed: an outcome a database crash
    // loses leaves its delivery pending and claimed, so it is sent again once the lease runs out
    // (at least once, never lost). The WAL is written in order, so the claim of a successor this
    // outcome let go (a synchronous commit) cannot survive a crash without it: order per key holds.
    runBatch: (items) => completeBatch(pool, items),
    maxWeight: MAX_BATCH_WEIGHT,
    schedule: setImmediate,
  });

  const store: OutboxStore = {
    enqueue: async (event, deliveries, now) => (await enqueue({ event, deliveries, now })).accepted,
    enqueueAndClaim: (event, deliveries, now, handOff) => enqueue({ event, deliveries, now, handOff }),

    claim: async (request) => {
      const { rows } = await pool.query<DeliveryRow & { body: string }>(
        // The rows locked but left out by the per-webhook slots are unlocked when the statement ends.
        `WITH due AS (
           SELECT id, webhook_key, next_attempt_at FROM outbox_deliveries
           WHERE status = 'pending' AND next_attempt_at IS NOT NULL AND next_attempt_at <= $1 AND claim_until <= $1
             AND NOT (webhook_key = ANY ($2::text[]))
           ORDER BY next_attempt_at, id
           LIMIT $3
           FOR UPDATE SKIP LOCKED),
         ranked AS (
           SELECT id, webhook_key, row_number() OVER (PARTITION BY webhook_key ORDER BY next_attempt_at, id) AS rank FROM due)
         UPDATE outbox_deliveries d SET claimed_by = $4, claim_until = $5
         FROM ranked WHERE d.id = ranked.id AND ranked.rank <= $6 - COALESCE(($7::jsonb ->> ranked.webhook_key)::int, 0)
         RETURNING d.*, (SELECT body FROM outbox_events e WHERE e.id = d.event_id) AS body`,
        [
          request.now,
          request.excludeWebhookKeys,
          request.limit,
          request.owner,
          request.now + request.leaseMs,
          request.slots?.perWebhook ?? request.limit,
          JSON.stringify(request.slots?.inFlight ?? {}),
        ],
      );
      return rows.map(claimedFromRow).sort((a, b) => a.id - b.id);
    },

    complete: async (id, owner, outcome, now) => (await complete({ id, owner, outcome, now })).recorded,
    completeAndClaim: (id, owner, outcome, now, leaseMs) => complete({ id, owner, outcome, now, leaseMs }),

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

    pendingByWebhook: async () => {
      const { rows } = await pool.query<{ webhook_key: string; url: string; n: string; oldest: string }>(
        `SELECT webhook_key, MIN(url) AS url, COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox_deliveries
         WHERE status = 'pending' GROUP BY webhook_key`,
      );
      return rows.map((row) => ({ webhookKey: row.webhook_key, url: row.url, pending: num(row.n), oldestCreatedAt: num(row.oldest) }));
    },

    enforceCap: async (maxPending, now) => {
      // In transactions of at most MAX_BATCH_WEIGHT deliveries: one holding an advisory lock per
      // order key of a large excess (thousands of chats) would run out of the shared lock table.
      const counted = await pool.query<{ n: string }>("SELECT COUNT(*) AS n FROM outbox_deliveries WHERE status = 'pending'");
      // Counted once: a chunk drops at most what it finds, so a concurrent accept is at worst left for the next pass.
      let excess = num(counted.rows[0]?.n ?? '0') - maxPending;
      let total = 0;
      while (excess > 0) {
        const dropped = await dropChunk(maxPending, Math.min(excess, MAX_BATCH_WEIGHT), now);
        if (dropped === 0) break;
        total += dropped;
        excess -= dropped;
      }
      return total;
    },

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
        if (row.status === 'cancelled') return { kind: 'cancelled' };
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

    cancelSession: (session, now) => cancelSessionDeliveries(pool, { lockOrderKeys, promoteHead }, session, now, MAX_BATCH_WEIGHT),

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
