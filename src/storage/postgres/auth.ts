import type { AuthEntry, AuthStore, AuthStores } from '../auth.js';
import type { PgPool } from './database.js';
import { inTransaction } from './database.js';
import { checkPostgresFence } from './leases.js';

/** The last entry per (category, id) wins, as when the entries are applied one after the other. */
function lastPerKey(entries: readonly AuthEntry[]): AuthEntry[] {
  const byKey = new Map<string, AuthEntry>();
  for (const entry of entries) byKey.set(JSON.stringify([entry.category, entry.id]), entry);
  return [...byKey.values()];
}

export function createPostgresAuthStores(pool: PgPool): AuthStores {
  return {
    forSession: (session, fence) =>
      ({
        get: async (category, ids) => {
          if (ids.length === 0) return {};
          // One query for any number of ids (= ANY of one array parameter), not one per id. With
          // statistics the primary key is probed per id (about 1 ms for 300 ids among 30,000 keys);
          // on a table autovacuum has not analysed yet the planner filters the session's keys
          // instead (about 10 ms), which a join on unnest() does not avoid either.
          const { rows } = await pool.query<{ id: string; value: string }>(
            'SELECT id, value FROM auth_keys WHERE session = $1 AND category = $2 AND id = ANY($3::text[])',
            [session, category, ids],
          );
          // fromEntries defines own properties, so an id such as "__proto__" stays a plain key.
          return Object.fromEntries(rows.map((row) => [row.id, row.value]));
        },
        set: async (entries) => {
          if (entries.length === 0) return;
          const unique = lastPerKey(entries);
          const deletes = unique.filter((entry) => entry.value === null);
          const upserts = unique.filter((entry): entry is AuthEntry & { value: string } => entry.value !== null);
          // Two statements whatever the batch size (arrays unnested server-side), in one transaction.
          await inTransaction(pool, async (client) => {
            if (fence !== undefined) await checkPostgresFence(client, session, fence);
            if (deletes.length > 0) {
              await client.query(
                `DELETE FROM auth_keys WHERE session = $1
                 AND (category, id) IN (SELECT * FROM unnest($2::text[], $3::text[]))`,
                [session, deletes.map((entry) => entry.category), deletes.map((entry) => entry.id)],
              );
            }
            if (upserts.length > 0) {
              await client.query(
                `INSERT INTO auth_keys (session, category, id, value)
                 SELECT $1, category, id, value FROM unnest($2::text[], $3::text[], $4::text[]) AS t (category, id, value)
                 ON CONFLICT (session, category, id) DO UPDATE SET value = excluded.value`,
                [
                  session,
                  upserts.map((entry) => entry.category),
                  upserts.map((entry) => entry.id),
                  upserts.map((entry) => entry.value),
                ],
              );
            }
          });
        },
        clear: async () => {
          await inTransaction(pool, async (client) => {
            if (fence !== undefined) await checkPostgresFence(client, session, fence);
            await client.query('DELETE FROM auth_keys WHERE session = $1', [session]);
          });
        },
      }) satisfies AuthStore,
  } satisfies AuthStores;
}
