import type { PgClient } from './database.js';

/**
 * Most deliveries (rows, and advisory locks: one per order key) one group-commit transaction
 * holds. Advisory locks live in the shared lock table (about max_locks_per_transaction ×
 * max_connections entries for the whole server), so a batch stays far below it.
 */
export const MAX_BATCH_WEIGHT = 256;

/** Transaction advisory locks on order keys, taken in sorted order so that two transactions cannot deadlock. */
export async function lockOrderKeys(client: PgClient, keys: Iterable<string>): Promise<void> {
  const unique = [...new Set(keys)];
  if (unique.length === 0) return;
  await client.query(
    `SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest($1::text[]) AS k ORDER BY h) AS sorted`,
    [unique],
  );
}
