/**
 * Runs tasks one at a time, in the order they were queued. Engine events of a session go through
 * one of these, so a `presence` event is merged and published before the next one is looked at, and
 * a status change is never overtaken by an older one.
 */
export interface SerialQueue {
  /** Queues a task whose result the caller awaits; rejects with the task's error. */
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Queues a task nobody awaits (engine callbacks are synchronous); its error goes to `onError`. */
  post(task: () => Promise<void>): void;
  /**
   * Work a task started and does not wait for (an event's accept into the outbox), so the next
   * task starts at once; `idle` still waits for it. Such work must never reject. Past `TRAIL_LIMIT` unfinished, the returned promise (which the
   * task awaits) waits for all of them: a slow database holds the engine's events back instead of
   * growing the backlog without bound.
   */
  trail(work: Promise<void>): Promise<void> | undefined;
  /** Resolves once every task queued so far, and the work they trailed, has finished. */
  idle(): Promise<void>;
}

/** Most trailed work unfinished before a task waits for it. */
export const TRAIL_LIMIT = 256;

export function createSerialQueue(onError: (error: unknown) => void): SerialQueue {
  let tail: Promise<void> = Promise.resolve();
  const unfinished = new Set<Promise<void>>();
  const settle = (): void => undefined;
  return {
    run<T>(task: () => Promise<T>): Promise<T> {
      const result = tail.then(task);
      // The caller handles the rejection; the chain itself must go on with the next task.
      tail = result.then(settle, settle);
      return result;
    },
    post(task) {
      tail = tail.then(task).catch(onError);
    },
    trail(work) {
      const done = work.then(() => {
        unfinished.delete(done);
      });
      unfinished.add(done);
      return unfinished.size > TRAIL_LIMIT ? Promise.all(unfinished).then(settle) : undefined;
    },
    async idle() {
      await tail;
      await Promise.all(unfinished);
    },
  };
}
