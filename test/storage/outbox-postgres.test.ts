import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { PgPool } from '../../src/storage/postgres/database.js';
import { createPool, migratePostgres } from '../../src/storage/postgres/database.js';
import { POSTGRES_OUTBOX_MIGRATIONS } from '../../src/storage/postgres/outbox-migration.js';
import { createPostgresOutboxStore } from '../../src/storage/postgres/outbox.js';
import type { OutboxStore } from '../../src/storage/outbox.js';
import type { OutboxFixture } from './outbox-conformance.js';
import { delivery, describeOutbox, event } from './outbox-conformance.js';
import { describeOutboxHandOff } from './outbox-handoff-conformance.js';
import { POSTGRES_AVAILABLE, TEST_DATABASE_URL, describePostgres } from '../support/postgres.js';

const URL = TEST_DATABASE_URL;

async function dropSchema(schema: string): Promise<void> {
  const admin = new pg.Client({ connectionString: URL });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await admin.end();
  }
}

function postgresFixture(): Promise<OutboxFixture> {
  // A fresh schema per test, dropped afterwards.
  const schema = `outbox_${randomBytes(6).toString('hex')}`;
  const pools: PgPool[] = [];
  return Promise.resolve({
    open: async () => {
      const pool = createPool({ url: URL, schema, max: 4 });
      pools.push(pool);
      // The outbox's own tables are all it needs (the full list is exercised by openStorage's tests).
      await migratePostgres(pool, schema, POSTGRES_OUTBOX_MIGRATIONS);
      return createPostgresOutboxStore(pool);
    },
    dispose: async () => {
      await Promise.all(pools.map((pool) => pool.end()));
      await dropSchema(schema);
    },
  });
}

if (POSTGRES_AVAILABLE) {
  describeOutbox('postgres', postgresFixture);
  describeOutboxHandOff('postgres', postgresFixture);
}

describePostgres('outbox on PostgreSQL: group commit', () => {
  const T0 = 1_700_000_000_000;
  let schema: string;
  let pool: PgPool;
  let store: OutboxStore;
  let transactions: number;
  beforeEach(async () => {
    schema = `outbox_${randomBytes(6).toString('hex')}`;
    pool = createPool({ url: URL, schema, max: 4 });
    await migratePostgres(pool, schema, POSTGRES_OUTBOX_MIGRATIONS);
    store = createPostgresOutboxStore(pool);
    transactions = 0;
    // Every transaction and every lone statement checks a connection out of the pool.
    pool.on('acquire', () => {
      transactions += 1;
    });
  });
  afterEach(async () => {
    await pool.end();
    await dropSchema(schema);
  });

  it('writes a burst of accepts, then of outcomes, in one transaction each', async () => {
    const accepted = await Promise.all(
      Array.from({ length: 100 }, (_, i) => store.enqueue(event(`e${i}`), [delivery('a', `c${i % 10}`)], T0)),
    );
    expect(accepted.every(Boolean)).toBe(true);
    expect(transactions).toBe(1);
    const claimed = await store.claim({ owner: 'srv', now: T0, leaseMs: 30_000, limit: 100, excludeWebhookKeys: [] });
    expect(claimed).toHaveLength(10);
    transactions = 0;
    const completed = await Promise.all(claimed.map((d) => store.complete(d.id, 'srv', { kind: 'delivered', status: 200 }, T0 + 1)));
    expect(completed.every(Boolean)).toBe(true);
    expect(transactions).toBe(1);
    expect(await store.countPending()).toBe(90);
  });

  it('an event the database refuses fails only its own accept, not the others of its batch', async () => {
    // PostgreSQL text cannot hold U+0000 (SQLite can): the whole batch's transaction fails on it.
    const results = await Promise.allSettled([
      store.enqueue(event('e1'), [delivery('a', 'c1')], T0),
      store.enqueue(event('bad', 's1', '{"nul":"\u0000"}'), [delivery('a', 'c1')], T0),
      store.enqueue(event('e2'), [delivery('a', 'c1')], T0),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const listed = await store.list('s1', { status: 'pending', limit: 10, before: null });
    expect(listed.map((d) => d.eventId)).toEqual(['e2', 'e1']);
    expect(listed.map((d) => d.nextAttemptAt)).toEqual([null, T0]);
  });
});
