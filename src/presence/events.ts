import type { SessionStatus } from './status.js';
import type { ChatPresence } from './types.js';
import type { EngineName, Me } from './sessions.js';

/**
 * Every event the server emits, by name, with its payload. Adding an event is adding a key here:
 * the envelope, the webhook filter and the WebSocket filter follow from this map.
 */
export interface EventPayloads {
  'presence.update': ChatPresence;
  /**
   * `reason` (our addition to WAHA's payload) says why, in words a person can act on, when the
   * change was not asked for through the API: a lost connection, a logout from the phone, a ban.
   */
  'session.status': { readonly status: SessionStatus; readonly reason?: string };
}

export type EventName = keyof EventPayloads;

export const EVENT_NAMES: readonly EventName[] = ['presence.update', 'session.status'];

export function isEventName(value: string): value is EventName {
  return (EVENT_NAMES as readonly string[]).includes(value);
}

/** WAHA's event envelope, exactly: clients de-duplicate on `id`. */
export interface EventEnvelope<E extends EventName = EventName> {
  readonly id: string;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  readonly event: E;
  readonly session: string;
  readonly metadata: Readonly<Record<string, string>> | null;
  readonly me: Me | null;
  readonly engine: EngineName;
  readonly environment: {
    readonly version: string;
    readonly engine: EngineName;
    readonly tier: string;
    readonly browser: string | null;
  };
  readonly payload: EventPayloads[E];
}

/** The envelope type, distributed over every event name (a discriminated union on `event`). */
export type AnyEventEnvelope = { [E in EventName]: EventEnvelope<E> }[EventName];
