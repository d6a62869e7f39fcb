import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { PgPool } from '../../src/storage/postgres/database.js';
import { createPool, migratePostgres } from '../../src/storage/postgres/database.js';
import { POSTGRES_OUTBOX_MIGRATION } from '../../src/storage/postgres/outbox-migration.js';
import { createPostgresOutboxStore } from '../../src/storage/postgres/outbox.js';
import { describeOutbox } from './outbox-conformance.js';

const URL = 'postgres://postgres@127.0.0.1:5432/test';

describeOutbox('postgres', () => {
  // A fresh schema per test, dropped afterwards.
  const schema = `outbox_${randomBytes(6).toString('hex')}`;
  const pools: PgPool[] = [];
  return Promise.resolve({
    open: async () => {
      const pool = createPool({ url: URL, schema, max: 4 });
      pools.push(pool);
      // The outbox's own tables are all it needs (the full list is exercised by openStorage's tests).
      await migratePostgres(pool, schema, [POSTGRES_OUTBOX_MIGRATION]);
      return createPostgresOutboxStore(pool);
    },
    dispose: async () => {
      await Promise.all(pools.map((pool) => pool.end()));
      const admin = new pg.Client({ connectionString: URL });
      await admin.connect();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await admin.end();
      }
    },
  });
});
