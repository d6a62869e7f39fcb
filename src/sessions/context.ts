import type { Logger } from 'pino';
import type { EngineFactory } from '../engines/engine.js';
import { AppError, isAppError } from '../errors.js';
import type { SessionEvents } from '../events/publisher.js';
import type { HistoryRecorder } from './history-recorder.js';
import type { OutboxStore } from '../storage/outbox.js';
import type { AuthStores } from '../storage/auth.js';
import type { PresenceStore, SubscriptionStore } from '../storage/presence.js';
import type { SessionStore } from '../storage/sessions.js';
import type { Gate } from './gate.js';
import type { SessionOwnership } from './ownership.js';
import type { Clock } from '../clock.js';
import type { RenewalPolicy, RenewalObserver } from './renewal.js';
import type { RuntimeTable } from './runtime.js';

/** The stores the session layer uses (a `Storage` of any backend has them all). */
export interface SessionStorage {
  readonly sessions: SessionStore;
  readonly auth: AuthStores;
  readonly presence: PresenceStore;
  readonly subscriptions: SubscriptionStore;
  /** A deleted session's webhook deliveries are cancelled. */
  readonly outbox: Pick<OutboxStore, 'cancelSession'>;
}

/** What every room of the session layer shares: built once by `createSessionManager`. */
export interface SessionContext {
  readonly storage: SessionStorage;
  readonly engines: EngineFactory;
  /** Where the session layer says what happened; src/events builds the envelopes and routes them. */
  readonly events: SessionEvents;
  /** The session layer's logger (`area: sessions`). */
  readonly logger: Logger;
  readonly policy: RenewalPolicy;
  /** Time and waiting (renewal pacing and retries, timestamps). */
  readonly clock: Clock;
  readonly onRenewal?: RenewalObserver;
  /** Presence history (history-recorder.ts): told every stored change and status transition. */
  readonly history?: HistoryRecorder;
  readonly ownership: SessionOwnership;
  readonly gate: Gate;
  readonly runtimes: RuntimeTable;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Engine failures keep their `AppError`; anything else becomes ENGINE_FAILED with the cause attached. */
export function engineError(session: string, action: string, error: unknown): AppError {
  if (isAppError(error)) return error;
  return new AppError('ENGINE_FAILED', `session "${session}" could not ${action}: ${messageOf(error)}`, { session }, { cause: error });
}
