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
  'session.status': SessionStatusPayload;
}

/** One status a session went through and when (milliseconds since the epoch): WAHA's `SessionStatusPoint`. */
export interface SessionStatusPoint {
  readonly status: SessionStatus;
  readonly timestamp: number;
}

/**
 * WAHA's `session.status` payload (`WASessionStatusBody`): the session's name, its new status, and
 * the last statuses it went through, oldest first, the new one last. `reason` is our addition.
 */
export interface SessionStatusPayload {
  readonly name: string;
  readonly status: SessionStatus;
  readonly statuses: readonly SessionStatusPoint[];
  readonly reason?: string;
}

export type EventName = keyof EventPayloads;

export const EVENT_NAMES: readonly EventName[] = ['presence.update', 'session.status'];

export function isEventName(value: string): value is EventName {
  return (EVENT_NAMES as readonly string[]).includes(value);
}

/**
 * What the session layer says happened, and nothing more: src/events wraps it in WAHA's envelope
 * (id, timestamp, me, engine, environment, metadata) and decides which webhooks and clients get it.
 */
export interface SessionFact<E extends EventName = EventName> {
  readonly session: string;
  readonly event: E;
  readonly payload: EventPayloads[E];
}

/** The fact type, distributed over every event name. */
export type AnySessionFact = { [E in EventName]: SessionFact<E> }[EventName];

/**
 * WAHA's `WAHAEnvironment`: the server that emitted an event. Built by `wahaEnvironment`
 * (src/events/environment.ts), the same for every event of one server.
 */
export interface EventEnvironment {
  readonly version: string;
  readonly engine: EngineName;
  readonly tier: string;
  /** A string in WAHA's document; NOWEB runs no browser (`none`). */
  readonly browser: string;
  /** `<os>/<arch>`. */
  readonly platform: string;
  /** The server (WA_PRESENCE_SERVER_ID) that emitted it. */
  readonly worker: { readonly id: string | null };
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
  readonly environment: EventEnvironment;
  readonly payload: EventPayloads[E];
}

/** The envelope type, distributed over every event name (a discriminated union on `event`). */
export type AnyEventEnvelope = { [E in EventName]: EventEnvelope<E> }[EventName];
