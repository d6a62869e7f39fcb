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
import { record, report } from './statement-totals.js';

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

process.on('exit', report);
