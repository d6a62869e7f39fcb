import type { SettingsStore } from '../settings.js';
import type { SqliteDatabase } from './database.js';
import { settle } from './database.js';

export function createSqliteSettingsStore(db: SqliteDatabase): SettingsStore {
  const get = db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?');
  const insert = db.prepare<[string, string]>('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING');
  const set = db.prepare<[string, string]>(
    'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  );
  // Insert and read back under one write lock: another process cannot slip a value in between,
  // so every caller gets the value that won.
  const setIfAbsent = db.transaction((key: string, value: string): string => {
    insert.run(key, value);
    const row = get.get(key);
    if (row === undefined) throw new Error(`setting "${key}" vanished right after it was written`);
    return row.value;
  });

  return {
    get: (key) => settle(() => get.get(key)?.value ?? null),
    setIfAbsent: (key, value) => settle(() => setIfAbsent.immediate(key, value)),
    set: (key, value) =>
      settle(() => {
        set.run(key, value);
      }),
  } satisfies SettingsStore;
}
