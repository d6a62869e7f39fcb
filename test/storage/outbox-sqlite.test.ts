import { mkdtemp, rm } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SqliteDatabase } from '../../src/storage/sqlite/database.js';
import { migrateSqlite, openSqliteDatabase } from '../../src/storage/sqlite/database.js';
import { SQLITE_MIGRATIONS } from '../../src/storage/sqlite/migrations.js';
import { createSqliteOutboxStore } from '../../src/storage/sqlite/outbox.js';
import { delivery, describeOutbox, event } from './outbox-conformance.js';

describeOutbox('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wa-presence-outbox-'));
  const dbs: SqliteDatabase[] = [];
  return {
    open: () =>
      new Promise((resolve) => {
        const db = openSqliteDatabase(dir);
        dbs.push(db);
        migrateSqlite(db, SQLITE_MIGRATIONS);
        resolve(createSqliteOutboxStore(db));
      }),
    dispose: async () => {
      for (const db of dbs) db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite outbox group commit', () => {
  let dir: string;
  let db: SqliteDatabase;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wa-presence-outbox-group-'));
    db = openSqliteDatabase(dir);
    migrateSqlite(db, SQLITE_MIGRATIONS);
  });
  afterEach(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a call that fails in a batch rolls back only itself; the calls around it commit', async () => {
    const store = createSqliteOutboxStore(db);
    const T = 1_700_000_000_000;
    // A delivery without a URL breaks a NOT NULL constraint after its event row was written.
    const broken = { ...delivery('a', 'c2'), url: null as unknown as string };
    const results = await Promise.allSettled([
      store.enqueue(event('e1'), [delivery('a', 'c1')], T),
      store.enqueue(event('e2'), [broken], T),
      store.enqueue(event('e3'), [delivery('a', 'c3')], T),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const events = db.prepare<[], { id: string }>('SELECT id FROM outbox_events ORDER BY id').all();
    expect(events.map((e) => e.id)).toEqual(['e1', 'e3']);
    expect(await store.countPending()).toBe(2);
    // Nothing of e2 stayed behind: it can be accepted again.
    expect(await store.enqueue(event('e2'), [delivery('a', 'c2')], T)).toBe(true);
  });
});
