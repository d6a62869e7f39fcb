/**
 * Where a benchmark's SQLite time goes, statement by statement: a preload that wraps every
 * prepared statement's run/get/all and every transaction in a timer, and prints the totals at exit.
 *
 *   node --import tsx --import ./bench/sqlite-statements.ts --expose-gc bench/presence-pipeline.ts --seconds 6 --skip-paced
 *
 * Counts (transactions, calls) are exact; times include the wrapper's own small cost, so compare
 * runs made with it, not with runs made without.
 */
import Database from 'better-sqlite3';

const totals = new Map<string, { calls: number; ns: number }>();

function record(key: string, since: bigint): void {
  const entry = totals.get(key) ?? { calls: 0, ns: 0 };
  entry.calls += 1;
  entry.ns += Number(process.hrtime.bigint() - since);
  totals.set(key, entry);
}

function timed<A extends unknown[], R>(key: string, work: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    const since = process.hrtime.bigint();
    try {
      return work(...args);
    } finally {
      record(key, since);
    }
  };
}

type Statement = ReturnType<Database.Database['prepare']>;
// eslint-disable-next-line @typescript-eslint/unbound-method -- called with .call(this) on each database
const prepare = Database.prototype.prepare as (this: Database.Database, sql: string) => Statement;
Database.prototype.prepare = function (this: Database.Database, sql: string) {
  const statement = prepare.call(this, sql);
  const key = sql.replace(/\s+/g, ' ').trim().slice(0, 70);
  const methods = statement as unknown as Record<'run' | 'get' | 'all', (...args: unknown[]) => unknown>;
  for (const name of ['run', 'get', 'all'] as const) methods[name] = timed(key, methods[name].bind(statement));
  return statement;
} as typeof Database.prototype.prepare;

type Transaction = Database.Transaction<(...args: unknown[]) => unknown>;
// eslint-disable-next-line @typescript-eslint/unbound-method -- called with .call(this) on each database
const transaction = Database.prototype.transaction as (this: Database.Database, fn: (...args: unknown[]) => unknown) => Transaction;
Database.prototype.transaction = function (this: Database.Database, fn: (...args: unknown[]) => unknown) {
  const wrapped = transaction.call(this, fn);
  const key = 'transaction (BEGIN … COMMIT, the statements inside included)';
  return Object.assign(timed(key, wrapped), {
    default: timed(key, wrapped.default.bind(wrapped)),
    deferred: timed(key, wrapped.deferred.bind(wrapped)),
    immediate: timed(key, wrapped.immediate.bind(wrapped)),
    exclusive: timed(key, wrapped.exclusive.bind(wrapped)),
  });
} as typeof Database.prototype.transaction;

process.on('exit', () => {
  const rows = [...totals].sort((a, b) => b[1].ns - a[1].ns).slice(0, 30);
  for (const [key, { calls, ns }] of rows) {
    process.stderr.write(`${(ns / 1e6).toFixed(0).padStart(7)} ms ${String(calls).padStart(8)} calls ${(ns / calls / 1e3).toFixed(1).padStart(7)} µs  ${key}\n`);
  }
});
