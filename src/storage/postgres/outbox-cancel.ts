import { CANCELLED_ERROR } from '../outbox.js';
import type { PgClient, PgPool } from './database.js';
import { inTransaction } from './database.js';

/** The outbox's own order-key bookkeeping (src/storage/postgres/outbox.ts), passed in. */
export interface OrderKeyOps {
  lockOrderKeys(client: PgClient, keys: Iterable<string>): Promise<void>;
  promoteHead(client: PgClient, orderKey: string, now: number): Promise<void>;
}

/**
 * `OutboxStore.cancelSession` on PostgreSQL: in transactions of at most `chunk` deliveries, each
 * holding the advisory locks of its order keys (as an accept does, so a delivery accepted meanwhile
 * is never left behind a head that is gone), since one lock per chat of a session with thousands
 * of them in one transaction would run out of the shared lock table.
 */
export async function cancelSessionDeliveries(pool: PgPool, ops: OrderKeyOps, session: string, now: number, chunk: number): Promise<number> {
  let total = 0;
  for (;;) {
    const cancelled = await inTransaction(pool, async (client) => {
      const candidates = await client.query<{ id: string; order_key: string }>(
        "SELECT id, order_key FROM outbox_deliveries WHERE session = $1 AND status IN ('pending', 'failed', 'dropped') ORDER BY id LIMIT $2",
        [session, chunk],
      );
      if (candidates.rows.length === 0) return 0;
      await ops.lockOrderKeys(client, candidates.rows.map((row) => row.order_key));
      // A finished one keeps what it was in its error (failed, dropped), so nothing of the history is lost.
      const updated = await client.query<{ order_key: string }>(
        `UPDATE outbox_deliveries SET status = 'cancelled',
           last_error = CASE status WHEN 'pending' THEN $1 ELSE $1 || ' (was ' || status || COALESCE(': ' || last_error, '') || ')' END,
           next_attempt_at = NULL, claimed_by = NULL, claim_until = 0, updated_at = $2
         WHERE id = ANY ($3::bigint[]) AND status IN ('pending', 'failed', 'dropped')
         RETURNING order_key`,
        [CANCELLED_ERROR, now, candidates.rows.map((row) => row.id)],
      );
      for (const key of new Set(updated.rows.map((row) => row.order_key))) await ops.promoteHead(client, key, now);
      return updated.rowCount ?? 0;
    });
    if (cancelled === 0) return total;
    total += cancelled;
  }
}
