import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { LeaseLostError, openStorage } from '../../src/storage/index.js';
import type { Storage } from '../../src/storage/index.js';
import type { PgClient } from '../../src/storage/postgres/database.js';
import { createPool, inTransaction, migratePostgres } from '../../src/storage/postgres/database.js';
import { POSTGRES_MIGRATIONS } from '../../src/storage/postgres/migrations.js';
import { openPostgresStorage } from '../../src/storage/postgres/open.js';
import { createPostgresOutboxStore } from '../../src/storage/postgres/outbox.js';
import { describeStorage, session } from './conformance.js';
import { POSTGRES_AVAILABLE, TEST_DATABASE_URL, describePostgres } from '../support/postgres.js';


async function withClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function freshSchema(): string {
  return `storage_test_${randomBytes(6).toString('hex')}`;
}

async function dropSchema(schema: string): Promise<void> {
  await withClient((client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
}

if (POSTGRES_AVAILABLE) describeStorage('postgres', () => {
  const schema = freshSchema();
  return Promise.resolve({
    open: (options) => openPostgresStorage({ url: TEST_DATABASE_URL, schema, poolSize: 4, ...options }),
    poisonAuthValue: async (poison) => {
      await withClient(async (client) => {
        await client.query(`CREATE FUNCTION ${schema}.poison_auth() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF NEW.value = ${pg.escapeLiteral(poison)} THEN RAISE EXCEPTION 'poisoned auth value'; END IF;
            RETURN NEW;
          END $$`);
        await client.query(`CREATE TRIGGER poison_auth BEFORE INSERT OR UPDATE ON ${schema}.auth_keys
          FOR EACH ROW EXECUTE FUNCTION ${schema}.poison_auth()`);
      });
    },
    appliedMigrations: () =>
      withClient(async (client) => {
        const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations ORDER BY applied_at, version`);
        return rows.map((row) => row.version);
      }),
    dispose: () => dropSchema(schema),
  });
});

describePostgres('postgres storage selection', () => {
  let schema: string | null = null;
  afterEach(async () => {
    if (schema !== null) await dropSchema(schema);
  });

  it('is chosen by a database URL and creates its schema', async () => {
    schema = freshSchema();
    const storage = await openStorage({ dataDir: '/nonexistent/not-used', databaseUrl: TEST_DATABASE_URL, schema });
    try {
      expect(storage.backend).toBe('postgres');
      const found = await withClient((client) =>
        client.query('SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2', [schema, 'sessions']),
      );
      expect(found.rowCount).toBe(1);
    } finally {
      await storage.close();
    }
  });

  it('refuses a schema name that is not a plain identifier, naming the rule', async () => {
    await expect(openPostgresStorage({ url: TEST_DATABASE_URL, schema: 'x; DROP TABLE y' })).rejects.toThrow(/lower-case letters/);
  });
});

describePostgres('postgres outbox cap', () => {
  let schema: string | null = null;
  afterEach(async () => {
    if (schema !== null) await dropSchema(schema);
  });

  it('drops an excess over more chats than one transaction can hold advisory locks for', async () => {
    // 64 locks a connection × ~200 backends: one transaction locking 20,000 order keys fails
    // with "out of shared memory" on a default server.
    schema = freshSchema();
    const storage = await openPostgresStorage({ url: TEST_DATABASE_URL, schema, poolSize: 4 });
    try {
      const count = 20_000;
      for (let from = 0; from < count; from += 1_000) {
        await Promise.all(
          Array.from({ length: 1_000 }, (_, i) => {
            const n = from + i;
            const event = { id: `e${n}`, session: 's', event: 'presence.update', body: '{}' };
            return storage.outbox.enqueue(event, [{ url: 'http://127.0.0.1:9/hook', webhookKey: 'w', orderKey: `w/${n}@c.us`, target: '{}' }], 1);
          }),
        );
      }
      expect(await storage.outbox.enforceCap(100, 2)).toBe(count - 100);
      const pending = await withClient((client) => client.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${schema}.outbox_deliveries WHERE status = 'pending'`));
      expect(Number(pending.rows[0]?.n)).toBe(100);
      // The newest are kept.
      const kept = await storage.outbox.list('s', { status: 'pending', limit: 1, before: null });
      expect(kept[0]?.eventId).toBe(`e${count - 1}`);
    } finally {
      await storage.close();
    }
  });
});

describePostgres('postgres migrations', () => {
  let schema: string | null = null;
  afterEach(async () => {
    if (schema !== null) await dropSchema(schema);
  });

  it('runs each migration in its own transaction: a failing one leaves nothing of itself', async () => {
    schema = freshSchema();
    const pool = createPool({ url: TEST_DATABASE_URL, schema, max: 2 });
    try {
      const good = { version: 1, name: 'good', sql: 'CREATE TABLE a (x integer)' };
      const bad = { version: 2, name: 'bad', sql: 'CREATE TABLE b (x integer); INSERT INTO nowhere VALUES (1)' };
      await expect(migratePostgres(pool, schema, [bad, good])).rejects.toThrow(/migration 2 \(bad\) failed/);
      const tables = await pool.query<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
        [schema],
      );
      expect(tables.rows.map((row) => row.table_name)).toEqual(['a', 'schema_migrations']);
      await migratePostgres(pool, schema, [good, { ...bad, sql: 'CREATE TABLE b (x integer)' }]);
      const versions = await pool.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(versions.rows).toEqual([{ version: 1 }, { version: 2 }]);
    } finally {
      await pool.end();
    }
  });

  it('migration 3 keeps the subscriptions stored before it, with no time (null), and times the new ones', async () => {
    schema = freshSchema();
    const pool = createPool({ url: TEST_DATABASE_URL, schema, max: 2 });
    try {
      await migratePostgres(pool, schema, POSTGRES_MIGRATIONS.filter((migration) => migration.version !== 3));
      await pool.query("INSERT INTO subscriptions (session, chat_id) VALUES ('s', '1@c.us')");
    } finally {
      await pool.end();
    }
    const storage = await openPostgresStorage({ url: TEST_DATABASE_URL, schema, poolSize: 2 });
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

  it('says which schema it could not open when the server is unreachable', async () => {
    await expect(openPostgresStorage({ url: 'postgres://postgres@127.0.0.1:1/test', schema: 'unreachable' })).rejects.toThrow(
      /cannot open PostgreSQL storage in schema "unreachable"/,
    );
  });
});

describePostgres('postgres leases with a frozen writer', () => {
  let schema: string | null = null;
  const opened: Storage[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((storage) => storage.close()));
    if (schema !== null) await dropSchema(schema);
  });

  /** Resolves once some backend waits for the advisory lock `key` (the writer is parked inside its transaction). */
  async function untilWaitingOnAdvisoryLock(client: pg.Client, key: number): Promise<void> {
    for (;;) {
      const { rowCount } = await client.query(
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted",
        [key],
      );
      if (rowCount !== null && rowCount > 0) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  it('a takeover skips a session whose fenced write is stuck mid-transaction instead of waiting for it', async () => {
    schema = freshSchema();
    let now = 1_800_000_000_000;
    const clock = { now: (): number => now };
    const one = await openPostgresStorage({ url: TEST_DATABASE_URL, schema, poolSize: 2, clock });
    opened.push(one);
    const two = await openPostgresStorage({ url: TEST_DATABASE_URL, schema, poolSize: 2, clock });
    opened.push(two);
    await one.sessions.create(session('stuck'));
    await one.sessions.create(session('free'));
    const leases = await one.leases.acquire('server-1', { capacity: 2, ttlMs: 1_000 });
    const stuckLease = leases.find((lease) => lease.session === 'stuck');
    if (stuckLease === undefined) throw new Error('server-1 should hold "stuck"');

    await withClient(async (control) => {
      // Writes of the value STALL park inside their transaction until the test lets them go.
      await control.query(`CREATE FUNCTION ${schema}.stall() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.value = 'STALL' THEN PERFORM pg_advisory_xact_lock(4242); END IF; RETURN NEW; END $$`);
      await control.query(`CREATE TRIGGER stall BEFORE INSERT ON ${schema}.auth_keys FOR EACH ROW EXECUTE FUNCTION ${schema}.stall()`);
      await control.query('SELECT pg_advisory_lock(4242)');
      const write = one.auth.forSession('stuck', stuckLease).set([{ category: 'creds', id: '', value: 'STALL' }]);
      await untilWaitingOnAdvisoryLock(control, 4242);

      // server-1 is frozen past its lease: server-2 takes what it can at once, without "stuck".
      now += 1_000;
      const taken = await two.leases.acquire('server-2', { capacity: 10, ttlMs: 1_000 });
      expect(taken.map((lease) => lease.session)).toEqual(['free']);

      // server-1 resumes: its write was checked while its lease was still its own, and commits.
      await control.query('SELECT pg_advisory_unlock(4242)');
      await write;
      const after = await two.leases.acquire('server-2', { capacity: 10, ttlMs: 1_000 });
      expect(after.map((lease) => [lease.session, lease.epoch])).toEqual([['stuck', 2]]);
      await expect(one.auth.forSession('stuck', stuckLease).set([{ category: 'creds', id: '', value: 'late' }])).rejects.toBeInstanceOf(
        LeaseLostError,
      );
      expect(await two.auth.forSession('stuck').get('creds', [''])).toEqual({ '': 'STALL' });
    });
  });

  it('ends transactions left idle by a frozen process, and relaxes commits only where asked', async () => {
    schema = freshSchema();
    const durable = createPool({ url: TEST_DATABASE_URL, schema, max: 1 });
    const relaxed = createPool({ url: TEST_DATABASE_URL, schema, max: 1, synchronousCommit: false });
    try {
      const setting = async (pool: typeof durable, name: string): Promise<string | undefined> =>
        (await pool.query<Record<string, string>>(`SHOW ${name}`)).rows[0]?.[name];
      expect(await setting(durable, 'idle_in_transaction_session_timeout')).toBe('5s');
      expect(await setting(relaxed, 'idle_in_transaction_session_timeout')).toBe('5s');
      expect(await setting(durable, 'synchronous_commit')).toBe('on');
      expect(await setting(relaxed, 'synchronous_commit')).toBe('off');
    } finally {
      await Promise.all([durable.end(), relaxed.end()]);
    }
  });

  it('an outcome batch commits without waiting for the disk unless it claimed a successor; the connection’s next transaction is durable again', async () => {
    schema = freshSchema();
    const pool = createPool({ url: TEST_DATABASE_URL, schema, max: 1 });
    try {
      await migratePostgres(pool, schema, POSTGRES_MIGRATIONS);
      const outbox = createPostgresOutboxStore(pool);
      const show = async (client: PgClient): Promise<string | undefined> =>
        (await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]?.synchronous_commit;
      const batch = (client: PgClient, ids: number[], claimBy: string | null) =>
        client.query<{ result: { done: number[]; successors: { id: number }[] } }>(
          `SELECT outbox_complete_batch($1::bigint[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::bigint[], $7::bigint[], $1::bigint[], $8::text[], $9::bigint[]) AS result`,
          [ids, ids.map(() => 'srv'), ids.map(() => 'delivered'), ids.map(() => 200), ids.map(() => null), ids.map(() => null), ids.map(() => 2), ids.map(() => claimBy), ids.map(() => (claimBy === null ? null : 30_000))],
        );
      const hook = { url: 'http://a.test/hook', webhookKey: 'a', orderKey: 'a|c1', target: '{}' };
      for (const id of ['e1', 'e2', 'e3']) expect(await outbox.enqueue({ id, session: 's1', event: 'presence.update', body: '{}' }, [hook], 1)).toBe(true);
      const [first] = await outbox.claim({ owner: 'srv', now: 1, leaseMs: 30_000, limit: 10, excludeWebhookKeys: [] });
      // No successor claimed (none asked for): relaxed.
      const relaxed = await inTransaction(pool, async (client) => ({ result: (await batch(client, [first?.id ?? 0], null)).rows[0]?.result, commit: await show(client) }));
      expect(relaxed.result?.done).toEqual([first?.id]);
      expect(relaxed.result?.successors).toEqual([]);
      expect(relaxed.commit).toBe('off');
      // set_config(…, true) ends with its transaction: the pooled connection (max 1: the same one) is back to durable commits.
      expect(await inTransaction(pool, show)).toBe('on');
      // A successor claimed: the commit waits for the disk.
      const [second] = await outbox.claim({ owner: 'srv', now: 3, leaseMs: 30_000, limit: 10, excludeWebhookKeys: [] });
      const durable = await inTransaction(pool, async (client) => ({ result: (await batch(client, [second?.id ?? 0], 'srv')).rows[0]?.result, commit: await show(client) }));
      expect(durable.result?.successors.map((row) => row.id)).toEqual([(second?.id ?? 0) + 1]);
      expect(durable.commit).toBe('on');
    } finally {
      await pool.end();
    }
  });
});
