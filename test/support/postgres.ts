/**
 * The PostgreSQL server every PostgreSQL test uses (trust auth, database `test`); each test makes a
 * fresh schema of its own. The one place that names it.
 */
export const TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
