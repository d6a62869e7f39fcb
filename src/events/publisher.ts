import type { AnyEventEnvelope } from '../presence/events.js';
import type { WebhookConfig } from '../presence/sessions.js';

/**
 * Where the session layer hands every event it emits. The contract between the sessions (producer)
 * and the events engine (webhook outbox, WebSocket fan-out).
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
