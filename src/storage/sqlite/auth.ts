import type { AuthEntry, AuthStore, AuthStores } from '../auth.js';
import type { LeaseFence } from '../leases.js';
import type { SqliteDatabase } from './database.js';
import { settle } from './database.js';
import { createSqliteFenceCheck } from './leases.js';

export function createSqliteAuthStores(db: SqliteDatabase): AuthStores {
  // One statement for any number of ids: the ids travel as one JSON array that json_each unrolls,
  // so a Baileys batch of hundreds of pre-keys is one query and one cached statement, not N.
  const get = db.prepare<[string, string, string], { id: string; value: string }>(
    `SELECT id, value FROM auth_keys
     WHERE session = ? AND category = ? AND id IN (SELECT value FROM json_each(?))`,
  );
  const upsert = db.prepare<[string, string, string, string]>(
    `INSERT INTO auth_keys (session, category, id, value) VALUES (?, ?, ?, ?)
     ON CONFLICT (session, category, id) DO UPDATE SET value = excluded.value`,
  );
  const remove = db.prepare<[string, string, string]>('DELETE FROM auth_keys WHERE session = ? AND category = ? AND id = ?');
  const clear = db.prepare<[string]>('DELETE FROM auth_keys WHERE session = ?');
  const checkFence = createSqliteFenceCheck(db);
  const clearFenced = db.transaction((session: string, fence: LeaseFence | undefined) => {
    if (fence !== undefined) checkFence(session, fence);
    clear.run(session);
  });
  // IMMEDIATE: take the write lock before the first statement, so a second connection on the same
  // file waits (busy_timeout) instead of failing half-way with SQLITE_BUSY on lock upgrade.
  // The fence is checked inside the same transaction as the write: no takeover can commit between.
  const write = db.transaction((session: string, fence: LeaseFence | undefined, entries: readonly AuthEntry[]) => {
    if (fence !== undefined) checkFence(session, fence);
    for (const entry of entries) {
      if (entry.value === null) remove.run(session, entry.category, entry.id);
      else upsert.run(session, entry.category, entry.id, entry.value);
    }
  });

  return {
    forSession: (session, fence) =>
      ({
        get: (category, ids) =>
          settle(() => {
            if (ids.length === 0) return {};
            const rows = get.all(session, category, JSON.stringify(ids));
            // fromEntries defines own properties, so an id such as "__proto__" stays a plain key.
            return Object.fromEntries(rows.map((row) => [row.id, row.value]));
          }),
        set: (entries) =>
          settle(() => {
            if (entries.length > 0) write.immediate(session, fence, entries);
          }),
        clear: () =>
          settle(() => {
            clearFenced.immediate(session, fence);
          }),
      }) satisfies AuthStore,
  } satisfies AuthStores;
}
