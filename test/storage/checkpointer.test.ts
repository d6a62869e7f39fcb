import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCheckpointer } from '../../src/storage/sqlite/checkpointer.js';
import type { SqliteDatabase } from '../../src/storage/sqlite/database.js';
import { openSqliteDatabase, SQLITE_FILE_NAME } from '../../src/storage/sqlite/database.js';
import { poll } from '../support/poll.js';

describe('SQLite checkpoint thread', () => {
  let dir: string;
  let db: SqliteDatabase;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wa-presence-checkpoint-'));
    db = openSqliteDatabase(dir);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  });
  afterEach(async () => {
    if (db.open) db.close();
    await rm(dir, { recursive: true, force: true });
  });

  function write(rows: number): void {
    const insert = db.prepare<[string]>('INSERT INTO t (body) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < rows; i += 1) insert.run('x'.repeat(500));
    })();
  }

  it('takes over checkpointing from the main connection and copies the WAL into the file', async () => {
    const checkpointer = await startCheckpointer(db, { intervalMs: 20 });
    expect(checkpointer).not.toBeNull();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const before = (await stat(join(dir, SQLITE_FILE_NAME))).size;
    // About 1 MB: 250 pages or more in the WAL.
    write(2000);
    const stats = await poll(
      async () => (await checkpointer?.stats()) ?? { checkpoints: 0, frames: 0 },
      (s) => s.frames >= 200,
      { what: 'the thread checkpointed the WAL', timeoutMs: 5000, everyMs: 20 },
    );
    expect(stats.checkpoints).toBeGreaterThan(0);
    // The rows are in the database file itself now, not only in the WAL.
    expect((await stat(join(dir, SQLITE_FILE_NAME))).size).toBeGreaterThan(before + 500_000);
    await checkpointer?.stop();
    await checkpointer?.stop();
  });

  it('gives checkpointing back to the main connection when the thread fails', async () => {
    db.close();
    // A file the thread cannot open as a database: it fails before it is ready.
    const bogus = Object.create(db, { name: { value: join(dir, 'missing-dir', 'x.sqlite') }, open: { value: false } }) as SqliteDatabase;
    expect(await startCheckpointer(bogus, { intervalMs: 20 })).toBeNull();
  });
});
