export interface GroupCommitOptions<I, R> {
  /**
   * Writes every item in ONE transaction and returns one result per item, in the same order.
   * Either all of it commits or none of it does.
   */
  readonly runBatch: (items: readonly I[]) => Promise<readonly R[]>;
  /** How much of a batch an item takes (rows, locks); a batch holds at most `maxWeight` unless one item alone is heavier. */
  readonly weight?: (item: I) => number;
  readonly maxWeight: number;
  /**
   * When an idle batcher starts collecting: a microtask (the calls of one synchronous run) or
   * `setImmediate` (everything one turn of the event loop brings, e.g. every webhook answer read
   * in one poll). While a batch is being written, new calls wait and form the next batch.
   */
  readonly schedule: (flush: () => void) => void;
}

interface Pending<I, R> {
  readonly item: I;
  readonly resolve: (value: R) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit for PostgreSQL: concurrent calls share one transaction, so N calls cost the round
 * trips (and the WAL flush) of one. At most one batch is in flight: calls are written in the
 * order they were made, and under load a batch collects whatever arrived while the previous one
 * was committing, so batches grow with the load instead of the transactions multiplying.
 *
 * Each caller learns its own result. When a batch of several fails, nothing of it was written
 * (one transaction), so its items are written again one by one: an item that alone makes the
 * transaction fail (a value the database refuses) fails only its own caller.
 */
export function createGroupCommit<I, R>(options: GroupCommitOptions<I, R>): (item: I) => Promise<R> {
  const weight = options.weight ?? (() => 1);
  let queue: Pending<I, R>[] = [];
  let scheduled = false;
  let writing = false;

  function takeBatch(): Pending<I, R>[] {
    let total = 0;
    let count = 0;
    for (const pending of queue) {
      const w = weight(pending.item);
      if (count > 0 && total + w > options.maxWeight) break;
      total += w;
      count += 1;
    }
    const batch = queue.slice(0, count);
    queue = queue.slice(count);
    return batch;
  }

  async function write(batch: readonly Pending<I, R>[]): Promise<void> {
    try {
      const results = await options.runBatch(batch.map((pending) => pending.item));
      if (results.length !== batch.length) throw new Error(`group commit: ${results.length} results for ${batch.length} items`);
      batch.forEach((pending, index) => pending.resolve(results[index] as R));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      for (const pending of batch) await write([pending]);
    }
  }

  function flush(): void {
    scheduled = false;
    if (writing || queue.length === 0) return;
    writing = true;
    const batch = takeBatch();
    // write() never rejects: every failure went to its caller.
    void write(batch).finally(() => {
      writing = false;
      if (queue.length > 0) flush();
    });
  }

  return (item) =>
    new Promise<R>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!scheduled && !writing) {
        scheduled = true;
        options.schedule(flush);
      }
    });
}
