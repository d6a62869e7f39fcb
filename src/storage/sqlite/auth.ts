import type { AuthEntry, AuthStore, AuthStores } from '../auth.js';
import type { SqliteDatabase } from './database.js';
import { settle } from './database.js';

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
  // IMMEDIATE: take the write lock before the first statement, so a second connection on the same
  // file waits (busy_timeout) instead of failing half-way with SQLITE_BUSY on lock upgrade.
  const write = db.transaction((session: string, entries: readonly AuthEntry[]) => {
    for (const entry of entries) {
      if (entry.value === null) remove.run(session, entry.category, entry.id);
      else upsert.run(session, entry.category, entry.id, entry.value);
    }
  });

  return {
    forSession: (session) =>
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
            if (entries.length > 0) write.immediate(session, entries);
          }),
        clear: () =>
          settle(() => {
            clear.run(session);
          }),
      }) satisfies AuthStore,
  } satisfies AuthStores;
}
