import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SqliteDatabase } from '../../src/storage/sqlite/database.js';
import { migrateSqlite, openSqliteDatabase } from '../../src/storage/sqlite/database.js';
import { SQLITE_MIGRATIONS } from '../../src/storage/sqlite/migrations.js';
import { createSqliteOutboxStore } from '../../src/storage/sqlite/outbox.js';
import { describeOutbox } from './outbox-conformance.js';

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
