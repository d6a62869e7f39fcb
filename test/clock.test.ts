import { describe, expect, it } from 'vitest';
import { clockAt, systemClock } from '../src/clock.js';

describe('systemClock', () => {
  it('sleeps for the time asked, and rejects with the reason as soon as the signal aborts', async () => {
    const began = Date.now();
    await systemClock.sleep(30);
    expect(Date.now() - began).toBeGreaterThanOrEqual(25);
    const controller = new AbortController();
    const sleeping = systemClock.sleep(60_000, controller.signal);
    controller.abort(new Error('stopping'));
    await expect(sleeping).rejects.toThrow('stopping');
    await expect(systemClock.sleep(10, AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });

  it('clockAt pins the time and keeps the timers', async () => {
    const pinned = clockAt(() => 42);
    expect(pinned.now()).toBe(42);
    await new Promise<void>((resolve) => pinned.setTimeout(resolve, 1));
  });
});
