import { describe, expect, it } from 'vitest';
import { createGroupCommit } from '../../../src/storage/postgres/group-commit.js';

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A batch writer the test answers by hand: it records each batch and waits for `finish`. */
function manualWriter() {
  const batches: { items: readonly number[]; done: Deferred<readonly string[]> }[] = [];
  let arrived = deferred<void>();
  return {
    batches,
    runBatch: (items: readonly number[]): Promise<readonly string[]> => {
      const done = deferred<readonly string[]>();
      batches.push({ items, done });
      arrived.resolve();
      return done.promise;
    },
    /** Resolves once the writer has been called `count` times in all. */
    async batchCount(count: number): Promise<void> {
      while (batches.length < count) {
        arrived = deferred<void>();
        await arrived.promise;
      }
    },
  };
}

describe('createGroupCommit', () => {
  it('writes the calls of one synchronous run in one batch, in call order, each caller getting its own result', async () => {
    const seen: number[][] = [];
    const commit = createGroupCommit<number, string>({
      runBatch: (items) => {
        seen.push([...items]);
        return Promise.resolve(items.map((item) => `r${item}`));
      },
      maxWeight: 100,
      schedule: queueMicrotask,
    });
    expect(await Promise.all([commit(1), commit(2), commit(3)])).toEqual(['r1', 'r2', 'r3']);
    expect(seen).toEqual([[1, 2, 3]]);
  });

  it('keeps one batch in flight: calls made meanwhile form the next one, written after it', async () => {
    const writer = manualWriter();
    const commit = createGroupCommit<number, string>({ runBatch: writer.runBatch, maxWeight: 100, schedule: queueMicrotask });
    const first = commit(1);
    await writer.batchCount(1);
    const later = [commit(2), commit(3)];
    // Nothing else is written while the first batch is not committed.
    await Promise.resolve();
    expect(writer.batches).toHaveLength(1);
    writer.batches[0]?.done.resolve(['one']);
    expect(await first).toBe('one');
    await writer.batchCount(2);
    expect(writer.batches[1]?.items).toEqual([2, 3]);
    writer.batches[1]?.done.resolve(['two', 'three']);
    expect(await Promise.all(later)).toEqual(['two', 'three']);
  });

  it('splits by weight, never below one item a batch', async () => {
    const seen: number[][] = [];
    const commit = createGroupCommit<number, number>({
      runBatch: (items) => {
        seen.push([...items]);
        return Promise.resolve(items);
      },
      weight: (item) => item,
      maxWeight: 5,
      schedule: queueMicrotask,
    });
    expect(await Promise.all([2, 3, 1, 9, 4].map((item) => commit(item)))).toEqual([2, 3, 1, 9, 4]);
    expect(seen).toEqual([[2, 3], [1], [9], [4]]);
  });

  it('a failed batch is written again item by item, so only the item that fails it fails its caller', async () => {
    const seen: number[][] = [];
    const commit = createGroupCommit<number, string>({
      runBatch: (items) => {
        seen.push([...items]);
        if (items.includes(2)) return Promise.reject(new Error('value 2 refused'));
        return Promise.resolve(items.map((item) => `r${item}`));
      },
      maxWeight: 100,
      schedule: queueMicrotask,
    });
    const results = await Promise.allSettled([commit(1), commit(2), commit(3)]);
    expect(results).toEqual([
      { status: 'fulfilled', value: 'r1' },
      { status: 'rejected', reason: new Error('value 2 refused') },
      { status: 'fulfilled', value: 'r3' },
    ]);
    expect(seen).toEqual([[1, 2, 3], [1], [2], [3]]);
  });

  it('a batch writer that returns the wrong number of results fails its callers instead of mixing results up', async () => {
    const commit = createGroupCommit<number, string>({
      runBatch: () => Promise.resolve(['only one']),
      maxWeight: 100,
      schedule: queueMicrotask,
    });
    const [a, b] = await Promise.allSettled([commit(1), commit(2)]);
    // Alone, each gets the one result it asked for.
    expect(a).toEqual({ status: 'fulfilled', value: 'only one' });
    expect(b).toEqual({ status: 'fulfilled', value: 'only one' });
    const lone = createGroupCommit<number, string>({ runBatch: () => Promise.resolve([]), maxWeight: 100, schedule: queueMicrotask });
    await expect(lone(1)).rejects.toThrow(/0 results for 1 items/);
  });

  it('keeps working after a failure', async () => {
    let fail = true;
    const commit = createGroupCommit<number, number>({
      runBatch: (items) => (fail ? Promise.reject(new Error('database down')) : Promise.resolve(items)),
      maxWeight: 100,
      schedule: queueMicrotask,
    });
    await expect(commit(1)).rejects.toThrow('database down');
    fail = false;
    expect(await commit(2)).toBe(2);
  });
});
