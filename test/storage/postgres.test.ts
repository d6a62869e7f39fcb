import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { openStorage } from '../../src/storage/index.js';
import { createPool, migratePostgres } from '../../src/storage/postgres/database.js';
import { openPostgresStorage } from '../../src/storage/postgres/open.js';
import { describeStorage } from './conformance.js';

const TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

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

describeStorage('postgres', () => {
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

describe('postgres storage selection', () => {
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

describe('postgres migrations', () => {
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

  it('says which schema it could not open when the server is unreachable', async () => {
    await expect(openPostgresStorage({ url: 'postgres://postgres@127.0.0.1:1/test', schema: 'unreachable' })).rejects.toThrow(
      /cannot open PostgreSQL storage in schema "unreachable"/,
    );
  });
});
