import type { AnyEventEnvelope, AnySessionFact } from '../presence/events.js';
import type { EngineName, Me, WebhookConfig } from '../presence/sessions.js';

/**
 * Where envelopes go: the events engine's side (webhook outbox, WebSocket fan-out), wrapped by the
 * relay to other servers and by metrics. Fed by `SessionEvents` (session-events.ts), which builds
 * the envelopes; nothing else publishes a session's events.
 *
 * `publish` is the durable-accept step: it resolves once the event is safely accepted for every
 * webhook whose `events` filter matches (written to the outbox, in the same step), and handed to
 * live listeners. It does not wait for any delivery. It rejects only when the event could not be
 * accepted; the caller logs that with the event id and goes on with the next event.
 *
 * Calls for one session come strictly in order (the session layer awaits each one before the
 * next), so a publisher may rely on per-session order.
 */
export interface EventPublisher {
  /**
   * @param envelope WAHA's envelope, built by `makeEnvelope` (unique, sortable `id`).
   * @param webhooks The session's own `config.webhooks` (possibly empty). The global webhook from
   *   the environment (`WHATSAPP_HOOK_URL`) is the publisher's business, not the caller's.
   */
  publish(envelope: AnyEventEnvelope, webhooks: readonly WebhookConfig[]): Promise<void>;
}

/**
 * Who a session is, as the envelope of its events says it (`me`, `engine`, `metadata`) and where
 * they go (its `webhooks`). A session's stored record is one.
 */
export interface EventSubject {
  readonly me: Me | null;
  readonly engine: EngineName;
  readonly config: { readonly metadata?: Readonly<Record<string, string>>; readonly webhooks?: readonly WebhookConfig[] };
}

/**
 * The port the session layer emits through: it says what happened (`{session, event, payload}`)
 * and about which session; src/events adds the envelope (id, timestamp, me, engine, environment,
 * metadata) and routes it. Same contract as `EventPublisher.publish`: resolves once accepted,
 * rejects when the event could not be accepted.
 */
export interface SessionEvents {
  /** @returns the envelope's id, for the caller's logs. */
  emit(fact: AnySessionFact, subject: EventSubject): Promise<string>;
}
