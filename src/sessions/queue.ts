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
  /** Resolves once every task queued so far has finished. */
  idle(): Promise<void>;
}

export function createSerialQueue(onError: (error: unknown) => void): SerialQueue {
  let tail: Promise<void> = Promise.resolve();
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
    idle() {
      return tail;
    },
  };
}
