import type { SqliteDatabase } from './database.js';

type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

interface GroupItem {
  readonly run: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** Thrown inside the fast batch to roll all of it back when one call failed. */
class BatchFailed extends Error {}

/** Wraps synchronous work on the database into a call that joins the current batch. */
export type GroupCommit = <A extends unknown[], R>(work: (...args: A) => R) => (...args: A) => Promise<R>;

/**
 * Group commit: the hot writes on one database (the outbox's accepts, claims, outcomes and
 * releases, the presence store's puts) made in one turn of the event loop run in ONE immediate
 * transaction, in the order they were made. One per database (`open.ts`), shared by its stores: a
 * commit costs about the same for one row as for a hundred, and under load (thousands of presence
 * puts, accepts and outcomes a second, a claim per worker pass) this multiplies throughput. The batch is written at
 * `setImmediate`, once the turn's I/O callbacks and microtasks have run (every webhook answer read
 * in one poll, every engine event handled in one run); each caller's promise settles only after the
 * COMMIT returned, so an accepted event is in the database when its `enqueue` resolves. Later calls
 * see the earlier ones' writes (same transaction), so a claim finds the deliveries accepted before
 * it in the batch.
 *
 * One failing call must roll back only itself. The calls run plainly first: a savepoint around
 * each (SAVEPOINT and RELEASE, two statements a call) cost a fifth of the outbox's CPU, and these
 * statements practically never fail. When one does, the whole batch is rolled back and run again
 * with each call in its own savepoint, which gives every call the outcome it would have had alone.
 */
export function createGroupCommit(db: SqliteDatabase): GroupCommit {
  let queue: GroupItem[] = [];
  const runPlain = db.transaction((items: readonly GroupItem[]): Settled<unknown>[] =>
    items.map((item): Settled<unknown> => {
      try {
        return { ok: true, value: item.run() };
      } catch {
        throw new BatchFailed();
      }
    }),
  );
  const runIsolated = db.transaction((items: readonly GroupItem[]): Settled<unknown>[] =>
    items.map((item): Settled<unknown> => {
      try {
        return { ok: true, value: db.transaction(item.run)() };
      } catch (error) {
        return { ok: false, error };
      }
    }),
  );
  function flush(): void {
    const items = queue;
    queue = [];
    let results: Settled<unknown>[];
    try {
      try {
        results = runPlain.immediate(items);
      } catch (error) {
        if (!(error instanceof BatchFailed)) throw error;
        results = runIsolated.immediate(items);
      }
    } catch (error) {
      for (const item of items) item.reject(error);
      return;
    }
    items.forEach((item, index) => {
      const result = results[index];
      if (result === undefined) item.reject(new Error('group commit lost a result'));
      else if (result.ok) item.resolve(result.value);
      else item.reject(result.error);
    });
  }
  return <A extends unknown[], R>(work: (...args: A) => R) =>
    (...args: A) =>
      new Promise<R>((resolve, reject) => {
        if (queue.length === 0) setImmediate(flush);
        queue.push({ run: () => work(...args), resolve: resolve as (value: unknown) => void, reject });
      });
}

