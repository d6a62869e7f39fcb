/**
 * Time as every part of the server reads and waits for it: one interface, built once in the
 * composition root (`systemClock`) and injected everywhere, so a test drives time by hand instead
 * of sleeping, and no module reads `Date.now()` or starts a timer behind the others' back.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
  /** Resolves after `ms`, or rejects with the signal's reason (an Error) as soon as it aborts (at once if it already has). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

type Handle = ReturnType<typeof setTimeout>;

/** Sleeps on the clock's own timers, so a clock that fakes `setTimeout` fakes `sleep` too. */
function sleepOn(timers: Pick<Clock, 'setTimeout' | 'clearTimeout'>, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const reason = (): Error => (signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal?.aborted === true) {
      reject(reason());
      return;
    }
    const onAbort = (): void => {
      timers.clearTimeout(handle);
      reject(reason());
    };
    const handle = timers.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The process's own clock and timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as Handle),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as Handle),
  sleep: (ms, signal) => sleepOn(systemClock, ms, signal),
};

/** `systemClock` with another `now` (a test that pins the time but keeps real timers). */
export function clockAt(now: () => number, base: Clock = systemClock): Clock {
  return { ...base, now };
}
