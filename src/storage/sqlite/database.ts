import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { Migration } from '../migration.js';
import { checkedMigrationOrder } from '../migration.js';

export type SqliteDatabase = Database.Database;

export const SQLITE_FILE_NAME = 'wa-presence.sqlite';

/** The main connection's own checkpoint threshold, in pages (also when the checkpoint thread is gone). */
export const INLINE_AUTOCHECKPOINT_PAGES = 10_000;

/** Opens (creating the directory and file when missing) and tunes the database in `dataDir`. */
export function openSqliteDatabase(dataDir: string): SqliteDatabase {
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (cause) {
    throw new Error(`cannot create the data directory ${dataDir}`, { cause });
  }
  const file = join(dataDir, SQLITE_FILE_NAME);
  let db: SqliteDatabase;
  try {
    db = new Database(file);
  } catch (cause) {
    throw new Error(`cannot open the SQLite database ${file}`, { cause });
  }
  try {
    // First: a second process (or a second Storage in tests) on the same file waits for the lock
    // instead of failing at once with SQLITE_BUSY, including while switching to WAL just below.
    db.pragma('busy_timeout = 5000');
    // WAL: readers never block the writer and a commit is one append, not a rewrite of pages.
    db.pragma('journal_mode = WAL');
    // NORMAL, not FULL: in WAL mode a transaction stays atomic and the file consistent either way,
    // and a process crash (the usual failure, SIGKILL included) loses nothing committed. Only a
    // power loss or OS crash may drop the last commits. FULL would add an fsync to every commit,
    // that is to every presence update and every signal-key write, which the presence workload
    // does hundreds of times a second; losing the last second of it on power loss costs at worst
    // a few stale presences or a signal-session renegotiation.
    db.pragma('synchronous = NORMAL');
    // A checkpoint (copying the WAL back into the file) waits for two fsyncs, on the event loop.
    // Every presence update with a webhook writes about 15 pages (accept, claim, outcome with the
    // outbox's indexes), so SQLite's default of one checkpoint per 1,000 pages meant one every ~70
    // updates: at 3,000 updates/s, 90 fsyncs a second. Every 10,000 pages (a WAL of up to 40 MB),
    // the same pages rewritten meanwhile are copied once: bench/presence-pipeline.ts went from
    // 2,600–3,100 to 3,750–4,200 updates/s and used about 12 % less CPU an update.
    // The storage's checkpoint thread (checkpointer.ts) turns this off while it runs.
    db.pragma(`wal_autocheckpoint = ${INLINE_AUTOCHECKPOINT_PAGES}`);
    // After a burst the WAL file is cut back to this size at the next checkpoint.
    db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  } catch (cause) {
    db.close();
    throw new Error(`cannot configure the SQLite database ${file}`, { cause });
  }
  return db;
}

/**
 * Applies the migrations not yet recorded, in version order, each in its own IMMEDIATE transaction
 * that re-checks the version first: two processes opening the same file at once both succeed and
 * each migration runs exactly once.
 */
export function migrateSqlite(db: SqliteDatabase, migrations: readonly Migration[], logger?: Logger): void {
  const sorted = checkedMigrationOrder(migrations);
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  const isApplied = db.prepare<[number], { version: number }>('SELECT version FROM schema_migrations WHERE version = ?');
  const record = db.prepare<[number, string, number]>('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const migration of sorted) {
    const apply = db.transaction(() => {
      if (isApplied.get(migration.version) !== undefined) return false;
      db.exec(migration.sql);
      record.run(migration.version, migration.name, Date.now());
      return true;
    });
    let applied: boolean;
    try {
      applied = apply.immediate();
    } catch (cause) {
      throw new Error(`SQLite migration ${migration.version} (${migration.name}) failed`, { cause });
    }
    if (applied) logger?.info({ version: migration.version, name: migration.name }, 'applied storage migration');
  }
}

/**
 * Runs synchronous SQLite work behind the async storage interfaces. A throw becomes a rejection
 * (never a synchronous throw from a promise-returning method), so `store.x().catch()` works.
 */
export function settle<T>(work: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(work()));
}
