import { describe, expect, it } from 'vitest';
import { TRAIL_LIMIT, createSerialQueue } from '../../src/sessions/queue.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('serial queue', () => {
  it('starts the next task while trailed work goes on, and idle waits for that work', async () => {
    const queue = createSerialQueue(() => undefined);
    const work = deferred();
    const order: string[] = [];
    queue.post(async () => {
      order.push('first');
      await queue.trail(work.promise.then(() => void order.push('trailed')));
    });
    queue.post(() => {
      order.push('second');
      return Promise.resolve();
    });
    let idle = false;
    const waiting = queue.idle().then(() => {
      idle = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['first', 'second']);
    expect(idle).toBe(false);
    work.resolve();
    await waiting;
    expect(order).toEqual(['first', 'second', 'trailed']);
  });

  it(`holds a task back once ${TRAIL_LIMIT} trailed pieces of work are unfinished`, async () => {
    const queue = createSerialQueue(() => undefined);
    const works = Array.from({ length: TRAIL_LIMIT + 1 }, deferred);
    let started = 0;
    for (const work of works) {
      queue.post(async () => {
        started += 1;
        await queue.trail(work.promise);
      });
    }
    queue.post(() => {
      started += 1;
      return Promise.resolve();
    });
    await new Promise((resolve) => setImmediate(resolve));
    // The task that trailed one too many waits: the task after it has not started.
    expect(started).toBe(TRAIL_LIMIT + 1);
    for (const work of works) work.resolve();
    await queue.idle();
    expect(started).toBe(TRAIL_LIMIT + 2);
  });
});
