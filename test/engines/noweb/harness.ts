import { pino } from 'pino';
import type { Logger } from 'pino';
import type { Engine, EngineEvent, EngineFactory } from '../../../src/engines/engine.js';
import type { SessionConfig } from '../../../src/presence/sessions.js';
import type { SessionStatus } from '../../../src/presence/status.js';
import { FakeAuthStore } from '../../support/fake-auth-store.js';

/**
 * One engine under test with everything it emits recorded, and `waitFor` to await an event instead
 * of sleeping. `waitFor` fails loudly (with the events seen so far) when nothing matches in time.
 */
export interface EngineUnderTest {
  readonly engine: Engine;
  readonly auth: FakeAuthStore;
  readonly events: EngineEvent[];
  statuses(): SessionStatus[];
  /** Resolves with the first recorded event (from `from`, default 0) that matches. */
  waitFor(match: (event: EngineEvent) => boolean, options?: { from?: number; timeoutMs?: number }): Promise<EngineEvent>;
  /** Waits for a `status` event with this status after the `from`-th event. */
  waitForStatus(status: SessionStatus, from?: number, timeoutMs?: number): Promise<void>;
}

export function engineUnderTest(
  factory: EngineFactory,
  options: { session?: string; config?: SessionConfig; auth?: FakeAuthStore; logger?: Logger } = {},
): EngineUnderTest {
  const events: EngineEvent[] = [];
  const waiters = new Set<() => void>();
  const auth = options.auth ?? new FakeAuthStore();
  const engine = factory.create({
    session: options.session ?? 'default',
    config: options.config ?? {},
    auth,
    logger: options.logger ?? pino({ level: 'silent' }),
    emit: (event) => {
      events.push(event);
      for (const wake of [...waiters]) wake();
    },
  });

  const waitFrom = (match: (event: EngineEvent) => boolean, from: number, timeoutMs: number): Promise<EngineEvent> =>
    new Promise((resolve, reject) => {
      let seen = from;
      const check = (): boolean => {
        for (; seen < events.length; seen += 1) {
          const event = events[seen];
          if (event !== undefined && match(event)) {
            resolve(event);
            return true;
          }
        }
        return false;
      };
      if (check()) return;
      const timer = setTimeout(() => {
        waiters.delete(wake);
        reject(new Error(`no matching engine event within ${timeoutMs} ms; events: ${JSON.stringify(events.slice(-20))}`));
      }, timeoutMs);
      const wake = (): void => {
        if (check()) {
          clearTimeout(timer);
          waiters.delete(wake);
        }
      };
      waiters.add(wake);
    });

  return {
    engine,
    auth,
    events,
    statuses: () => events.flatMap((event) => (event.type === 'status' ? [event.status] : [])),
    waitFor: (match, waitOptions = {}) => waitFrom(match, waitOptions.from ?? 0, waitOptions.timeoutMs ?? 10_000),
    waitForStatus: async (status, from = 0, timeoutMs = 10_000) => {
      await waitFrom((event) => event.type === 'status' && event.status === status, from, timeoutMs);
    },
  };
}
