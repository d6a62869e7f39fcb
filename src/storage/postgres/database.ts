import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Migration } from '../migration.js';
import { checkedMigrationOrder } from '../migration.js';

export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient;

/** Unquoted identifiers only: the name is spliced into DDL and `search_path`. */
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkSchemaName(schema: string): string {
  if (!SCHEMA_PATTERN.test(schema)) {
    throw new Error(`PostgreSQL schema "${schema}" must be lower-case letters, digits and _ (at most 63), starting with a letter or _`);
  }
  return schema;
}

export interface PoolOptions {
  readonly url: string;
  readonly schema: string;
  readonly max?: number;
  readonly logger?: Logger;
  /**
   * false: a COMMIT returns without waiting for the WAL to reach disk. Only for data that a
   * database crash may lose without harm (last known presence: the next update replaces it);
   * transactions stay atomic and the database consistent either way.
   */
  readonly synchronousCommit?: boolean;
  /**
   * A query not answered in this long fails (on this side: also when the network silently drops
   * the connection). For the lease renewer, whose answer is useless once the lease would have run out.
   */
  readonly queryTimeoutMs?: number;
}

/**
 * Our transactions last milliseconds; one idle this long belongs to a frozen process (SIGSTOP,
 * a stalled VM) and would keep its row locks, such as a lease row a fenced write holds FOR SHARE.
 * The server ends it and the locks go.
 */
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 5_000;

/**
 * A pool whose every connection works in `schema` (set at connect time with the `options` startup
 * parameter, so no query can run before it applies).
 */
export function createPool(options: PoolOptions): PgPool {
  const pool = new pg.Pool({
    connectionString: options.url,
    options: [
      `-c search_path=${checkSchemaName(options.schema)}`,
      `-c idle_in_transaction_session_timeout=${IDLE_IN_TRANSACTION_TIMEOUT_MS}`,
      ...(options.synchronousCommit === false ? ['-c synchronous_commit=off'] : []),
    ].join(' '),
    max: options.max ?? 10,
    ...(options.queryTimeoutMs === undefined ? {} : { query_timeout: options.queryTimeoutMs, connectionTimeoutMillis: options.queryTimeoutMs }),
  });
  // An idle connection that the server drops emits 'error' on the pool; unhandled, it would crash
  // the process. The pool discards that connection and opens a new one on the next query.
  pool.on('error', (error) => {
    options.logger?.warn({ err: error }, 'PostgreSQL connection lost while idle');
  });
  return pool;
}

/** Runs `work` in one transaction on one connection: COMMIT when it resolves, ROLLBACK when not. */
export async function inTransaction<T>(pool: PgPool, work: (client: PgClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A checked-out connection that the server ends between two statements (idle-in-transaction
  // timeout after a SIGSTOP) emits 'error' on the client, not the pool; unhandled, it would crash
  // the process. The next statement fails with it and release() destroys the connection.
  const onError = (error: Error): void => {
    broken = error;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      // The connection is unusable: hand the error to release() so the pool destroys it.
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    }
    throw error;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

/**
 * A stable 64-bit advisory lock key per schema: servers migrating the same schema exclude each
 * other, different schemas (tests) do not.
 */
function migrationLockKey(schema: string): string {
  return createHash('sha256').update(`wa-presence:migrations:${schema}`).digest().readBigInt64BE(0).toString();
}

/**
 * Creates the schema and applies the pending migrations, holding a session advisory lock so that
 * servers starting together take turns: the first applies them, the others then find them applied.
 * Each migration runs in its own transaction together with its schema_migrations row.
 */
export async function migratePostgres(pool: PgPool, schema: string, migrations: readonly Migration[], logger?: Logger): Promise<void> {
  const sorted = checkedMigrationOrder(migrations);
  const key = migrationLockKey(schema);
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [key]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${checkSchemaName(schema)}`);
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const applied = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
      const done = new Set(applied.rows.map((row) => row.version));
      for (const migration of sorted) {
        if (done.has(migration.version)) continue;
        try {
          await client.query('BEGIN');
          await client.query(migration.sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
          await client.query('COMMIT');
        } catch (cause) {
          await client.query('ROLLBACK');
          throw new Error(`PostgreSQL migration ${migration.version} (${migration.name}) failed`, { cause });
        }
        logger?.info({ version: migration.version, name: migration.name, schema }, 'applied storage migration');
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [key]);
    }
  } catch (error) {
    // Destroying the connection also frees the advisory lock if the unlock itself failed.
    broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.release(broken);
  }
}
