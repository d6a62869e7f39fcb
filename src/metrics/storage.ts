import { performance } from 'node:perf_hooks';
import type { AuthStores } from '../storage/auth.js';
import type { Storage } from '../storage/index.js';
import type { Metrics } from './metrics.js';

type Observe = (seconds: number) => void;

/**
 * The same store with every method timed (resolve or reject alike) into
 * `wa_presence_storage_operation_seconds{store, backend}`. Stores are plain objects of functions
 * (src/storage/*): each function is wrapped once, here, not per call.
 */
function timed<T extends object>(store: T, observe: Observe): T {
  const wrapped: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(store)) {
    if (typeof value !== 'function') {
      wrapped[key] = value;
      continue;
    }
    const method = value as (...args: unknown[]) => unknown;
    wrapped[key] = (...args: unknown[]): unknown => {
      const started = performance.now();
      const done = (): void => observe((performance.now() - started) / 1000);
      let result: unknown;
      try {
        result = method.apply(store, args);
      } catch (error) {
        done();
        throw error;
      }
      if (result instanceof Promise) {
        result.then(done, done);
        return result;
      }
      done();
      return result;
    };
  }
  // Same keys, each function replaced by one with the same signature: the store's own type.
  return wrapped as T;
}

/** Wraps every store of `storage` (auth: each session's store as it is handed out); `close` and `backend` pass through. */
export function instrumentStorage(storage: Storage, metrics: Metrics): Storage {
  const backend = storage.backend;
  const observer = (store: string): Observe => {
    const cell = metrics.storageLatency.cell({ store, backend });
    return (seconds) => cell.observe(seconds);
  };
  const authObserve = observer('auth');
  const auth: AuthStores = { forSession: (session, fence) => timed(storage.auth.forSession(session, fence), authObserve) };
  return {
    sessions: timed(storage.sessions, observer('sessions')),
    auth,
    presence: timed(storage.presence, observer('presence')),
    subscriptions: timed(storage.subscriptions, observer('subscriptions')),
    settings: timed(storage.settings, observer('settings')),
    outbox: timed(storage.outbox, observer('outbox')),
    leases: timed(storage.leases, observer('leases')),
    statuses: timed(storage.statuses, observer('statuses')),
    history: timed(storage.history, observer('history')),
    backend,
    close: () => storage.close(),
  };
}
