/**
 * Where a benchmark's PostgreSQL time goes, statement by statement: a preload that wraps every
 * `pg` client's `query` in a timer (from the call to its answer: the round trip, the server's
 * work and any wait for the connection's earlier queries) and prints the totals at exit.
 *
 *   node --import tsx --import ./bench/pg-statements.ts --expose-gc bench/presence-pipeline.ts --seconds 6 --rate 2000 --skip-sustained --pg postgres://postgres@127.0.0.1:5432/test
 *
 * Counts are exact; compare runs made with it, not with runs made without.
 */
import { isMainThread } from 'node:worker_threads';
import pg from 'pg';
import { record, report } from './statement-totals.js';

function keyOf(query: unknown): string {
  const text = typeof query === 'string' ? query : typeof query === 'object' && query !== null && 'text' in query ? String(query.text) : '?';
  return text.replace(/\s+/g, ' ').trim().slice(0, 90);
}

type Query = (this: pg.Client, ...args: unknown[]) => unknown;
// eslint-disable-next-line @typescript-eslint/unbound-method -- called with .call(this) on each client
const query = pg.Client.prototype.query as unknown as Query;
function timedQuery(this: pg.Client, ...args: unknown[]): unknown {
  const since = process.hrtime.bigint();
  const key = keyOf(args[0]);
  const last = args.length - 1;
  const callback = args[last];
  if (typeof callback === 'function') {
    // pool.query's form: the answer comes to a callback.
    args[last] = (...answer: unknown[]) => {
      record(key, since);
      return (callback as (...a: unknown[]) => unknown)(...answer);
    };
    return query.apply(this, args);
  }
  const result = query.apply(this, args);
  if (result instanceof Promise) {
    return result.finally(() => {
      record(key, since);
    });
  }
  return result;
}

// Worker threads inherit --import: the lease renewer's thread is left alone (its timing is its own).
if (isMainThread) {
  (pg.Client.prototype as unknown as { query: Query }).query = timedQuery;
  process.on('exit', report);
}
