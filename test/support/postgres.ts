import pg from 'pg';
import { describe } from 'vitest';

/**
 * The PostgreSQL server every PostgreSQL test uses (trust auth, database `test`); each test makes a
 * fresh schema of its own. The one place that names it; `WA_PRESENCE_TEST_DATABASE_URL` points
 * the tests at another server.
 */
export const TEST_DATABASE_URL = process.env.WA_PRESENCE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Why the server does not answer, or null when it does (asked once per test file, 3 s at most). */
async function unreachable(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const problem = await unreachable(TEST_DATABASE_URL);
if (problem !== null) {
  const where = `no PostgreSQL server answers at ${TEST_DATABASE_URL} (${problem}); start one there (trust auth, database "test") or set WA_PRESENCE_TEST_DATABASE_URL`;
  // CI has PostgreSQL running: there a missing server is a failure, never a quietly smaller run.
  if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') throw new Error(`PostgreSQL tests cannot run: ${where}`);
  console.warn(`PostgreSQL tests SKIPPED: ${where}`);
}

/** Whether the PostgreSQL tests run here. */
export const POSTGRES_AVAILABLE = problem === null;

/** `describe` for a block that needs PostgreSQL: skipped, with the message above, when none answers. */
export const describePostgres = describe.skipIf(!POSTGRES_AVAILABLE);
