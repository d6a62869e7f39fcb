import type { SettingsStore } from '../settings.js';
import type { PgPool } from './database.js';

export function createPostgresSettingsStore(pool: PgPool): SettingsStore {
  const get = async (key: string): Promise<string | null> => {
    const { rows } = await pool.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]);
    return rows[0]?.value ?? null;
  };
  return {
    get,
    setIfAbsent: async (key, value) => {
      const inserted = await pool.query<{ value: string }>(
        'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING value',
        [key, value],
      );
      if (inserted.rows[0] !== undefined) return inserted.rows[0].value;
      // Not in the same statement: a conflicting insert that committed meanwhile is invisible to
      // that statement's snapshot, but ON CONFLICT waited for it, so a new statement sees it.
      const stored = await get(key);
      if (stored === null) throw new Error(`setting "${key}" was neither inserted nor found`);
      return stored;
    },
    set: async (key, value) => {
      await pool.query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
    },
  } satisfies SettingsStore;
}
