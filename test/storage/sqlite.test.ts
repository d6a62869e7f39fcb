import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openStorage } from '../../src/storage/index.js';
import { checkedMigrationOrder } from '../../src/storage/migration.js';
import { migrateSqlite, openSqliteDatabase } from '../../src/storage/sqlite/database.js';
import { SQLITE_MIGRATIONS } from '../../src/storage/sqlite/migrations.js';
import { openSqliteStorage } from '../../src/storage/sqlite/open.js';
import { describeStorage } from './conformance.js';

describeStorage('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wa-presence-storage-'));
  // A subdirectory that does not exist yet: opening must create it.
  const dataDir = join(dir, 'data');
  const file = join(dataDir, 'wa-presence.sqlite');
  function withFile<T>(work: (db: Database.Database) => T): T {
    const db = new Database(file);
    try {
      return work(db);
    } finally {
      db.close();
    }
  }
  return {
    open: (options) => openSqliteStorage({ dataDir, ...options }),
    poisonAuthValue: (poison) =>
      Promise.resolve(
        withFile((db) => {
          db.prepare(
            `CREATE TRIGGER poison_auth BEFORE INSERT ON auth_keys WHEN NEW.value = '${poison.replaceAll("'", "''")}'
             BEGIN SELECT RAISE(ABORT, 'poisoned auth value'); END`,
          ).run();
        }),
      ),
    appliedMigrations: () =>
      Promise.resolve(
        withFile((db) => db.prepare<[], { version: number }>('SELECT version FROM schema_migrations ORDER BY rowid').all().map((row) => row.version)),
      ),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('sqlite storage file', () => {
  let dir: string | null = null;
  afterEach(async () => {
    if (dir !== null) await rm(dir, { recursive: true, force: true });
  });

  it('is created with its directory, in WAL mode, when SQLite is chosen', async () => {
    dir = await mkdtemp(join(tmpdir(), 'wa-presence-storage-'));
    const dataDir = join(dir, 'nested', 'data');
    const storage = await openStorage({ dataDir, databaseUrl: null });
    try {
      expect(storage.backend).toBe('sqlite');
      const file = join(dataDir, 'wa-presence.sqlite');
      expect(existsSync(file)).toBe(true);
      const db = new Database(file, { readonly: true });
      try {
        expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      } finally {
        db.close();
      }
    } finally {
      await storage.close();
    }
  });
});

describe('sqlite migrations', () => {
  let dir: string | null = null;
  afterEach(async () => {
    if (dir !== null) await rm(dir, { recursive: true, force: true });
  });

  it('runs each migration in its own transaction: a failing one leaves nothing of itself', async () => {
    dir = await mkdtemp(join(tmpdir(), 'wa-presence-storage-'));
    const db = openSqliteDatabase(dir);
    try {
      const good = { version: 1, name: 'good', sql: 'CREATE TABLE a (x INTEGER)' };
      const bad = { version: 2, name: 'bad', sql: 'CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1)' };
      expect(() => migrateSqlite(db, [bad, good])).toThrow(/migration 2 \(bad\) failed/);
      const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all();
      expect(tables.map((table) => table.name)).toEqual(['a', 'schema_migrations']);
      expect(db.prepare('SELECT version FROM schema_migrations').all()).toEqual([{ version: 1 }]);
      // Fixed, it applies on the next start and the good one is not run twice.
      migrateSqlite(db, [good, { ...bad, sql: 'CREATE TABLE b (x INTEGER)' }]);
      expect(db.prepare('SELECT version FROM schema_migrations ORDER BY version').all()).toEqual([{ version: 1 }, { version: 2 }]);
    } finally {
      db.close();
    }
  });

  it('migration 3 keeps the subscriptions stored before it, with no time (null), and times the new ones', async () => {
    dir = await mkdtemp(join(tmpdir(), 'wa-presence-storage-'));
    const dataDir = dir;
    const db = openSqliteDatabase(dataDir);
    try {
      migrateSqlite(db, SQLITE_MIGRATIONS.filter((migration) => migration.version !== 3));
      db.prepare("INSERT INTO subscriptions (session, chat_id) VALUES ('s', '1@c.us')").run();
    } finally {
      db.close();
    }
    const storage = await openSqliteStorage({ dataDir });
    try {
      await storage.subscriptions.add('s', '2@c.us', 1_760_000_000_000);
      expect(await storage.subscriptions.list('s')).toEqual([
        { chatId: '1@c.us', since: null },
        { chatId: '2@c.us', since: 1_760_000_000_000 },
      ]);
    } finally {
      await storage.close();
    }
  });

  it('refuses two migrations with the same version', () => {
    expect(() =>
      checkedMigrationOrder([
        { version: 1, name: 'one', sql: '' },
        { version: 1, name: 'other', sql: '' },
      ]),
    ).toThrow(/"one" and "other" share version 1/);
    expect(() => checkedMigrationOrder([{ version: 0, name: 'zero', sql: '' }])).toThrow(/invalid version 0/);
  });
});

describe('sqlite opened by several processes at once', () => {
  let dir: string | null = null;
  afterEach(async () => {
    if (dir !== null) await rm(dir, { recursive: true, force: true });
  });

  it('creates and migrates a fresh file exactly once while three processes open it together', async () => {
    dir = await mkdtemp(join(tmpdir(), 'wa-presence-storage-'));
    const dataDir = join(dir, 'data');
    const script = fileURLToPath(new URL('./fixtures/open-sqlite.ts', import.meta.url));
    const runs = ['p1', 'p2', 'p3'].map(
      (name) =>
        new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', script, dataDir, name], { stdio: ['ignore', 'ignore', 'pipe'] });
          let stderr = '';
          child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          child.on('error', reject);
          child.on('exit', (code) => resolve({ code, stderr }));
        }),
    );
    for (const run of await Promise.all(runs)) expect(run).toEqual({ code: 0, stderr: '' });
    const db = new Database(join(dataDir, 'wa-presence.sqlite'), { readonly: true });
    try {
      const versions = db.prepare<[], { version: number }>('SELECT version FROM schema_migrations ORDER BY version').all();
      expect(versions.map((row) => row.version)).toEqual(SQLITE_MIGRATIONS.map((migration) => migration.version).sort((a, b) => a - b));
      expect(db.prepare('SELECT name FROM sessions ORDER BY name').all()).toEqual([{ name: 'p1' }, { name: 'p2' }, { name: 'p3' }]);
    } finally {
      db.close();
    }
  });
});
