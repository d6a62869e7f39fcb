import type { GlobalHookConfig } from '../config.js';
import type { OutboxStore } from '../storage/outbox.js';
import type { Hub } from './hub.js';
import type { EventPublisher } from './publisher.js';
import type { WebhookConfig } from '../presence/sessions.js';
import type { WebhookTarget } from './webhooks.js';
import { orderKeyOf, targetOfGlobalHook, targetOfWebhook, webhookKey, webhookWants } from './webhooks.js';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import type { DeliveryWorker } from './worker.js';

/** What a delivery stores of its webhook, the same for every event it gets. */
interface PreparedWebhook {
  /** Event names or `*`. */
  readonly events: readonly string[];
  readonly target: WebhookTarget;
  /** The stored form of `target`, and the identity that de-duplicates a webhook listed twice. */
  readonly serialised: string;
  readonly webhookKey: string;
}

export interface OutboxPublisherOptions {
  readonly outbox: OutboxStore;
  /** Live WebSocket clients; they get the same bytes as the webhooks, after the outbox has them. */
  readonly hub: Hub | null;
  /** `config.hook` (WHATSAPP_HOOK_URL …): added to every session's webhooks. */
  readonly globalHook: GlobalHookConfig | null;
  /** Called after an enqueue with its deliveries' webhook keys, so the worker sends at once instead of at its next poll. */
  readonly wake: (webhookKeys: readonly string[]) => void;
  /**
   * The worker's hand-off (src/events/worker.ts): with an outbox that has `enqueueAndClaim`, the
   * deliveries it has free slots for are claimed by the accept itself and handed to it, so they
   * are sent without waiting for a claim pass.
   */
  readonly handOff?: Pick<DeliveryWorker, 'reserve' | 'adopt'>;
  readonly clock?: Pick<Clock, 'now'>;
}

function preparedOf(events: readonly string[], target: WebhookTarget): PreparedWebhook {
  return { events, target, serialised: JSON.stringify(target), webhookKey: webhookKey(target) };
}

/**
 * The events engine's `EventPublisher`: serialises the envelope once (those exact bytes are
 * stored, signed and sent), writes it with one delivery per interested webhook in one transaction,
 * then hands it to live WebSocket clients. When `publish` resolves the event survives a crash.
 */
export function createOutboxPublisher(options: OutboxPublisherOptions): EventPublisher {
  const clock = options.clock ?? systemClock;
  // The global hook is prepared once from the config itself (it is no session's webhook).
  const global = options.globalHook === null ? null : preparedOf(options.globalHook.events, targetOfGlobalHook(options.globalHook));
  // Keyed by the config object: a session's webhooks stay the same objects until its config is
  // replaced, so each is serialised and hashed once, not once per event.
  const prepared = new WeakMap<WebhookConfig, PreparedWebhook>();
  function prepare(webhook: WebhookConfig): PreparedWebhook {
    let entry = prepared.get(webhook);
    if (entry === undefined) {
      entry = preparedOf(webhook.events, targetOfWebhook(webhook));
      prepared.set(webhook, entry);
    }
    return entry;
  }
  const enqueueAndClaim = options.outbox.enqueueAndClaim;
  return {
    async publish(envelope, webhooks) {
      const body = JSON.stringify(envelope);
      const routes = webhooks.map(prepare);
      if (global !== null) routes.push(global);
      const seen = new Set<string>();
      const deliveries = [];
      for (const route of routes) {
        if (!webhookWants(route, envelope.event)) continue;
        const { target, serialised, webhookKey: key } = route;
        // The same webhook listed twice (e.g. a session webhook equal to the global one) gets one copy.
        if (seen.has(serialised)) continue;
        seen.add(serialised);
        deliveries.push({ url: target.url, webhookKey: key, orderKey: orderKeyOf(target, envelope), target: serialised });
      }
      if (deliveries.length > 0) {
        const event = { id: envelope.id, session: envelope.session, event: envelope.event, body };
        const keys = deliveries.map((d) => d.webhookKey);
        // Null unless the outbox hands off (the worker reserves nothing otherwise).
        const handOff = options.handOff?.reserve(keys) ?? null;
        try {
          if (handOff === null || enqueueAndClaim === undefined) {
            await options.outbox.enqueue(event, deliveries, clock.now());
            options.wake(keys);
          } else {
            let claimed = null;
            try {
              claimed = (await enqueueAndClaim(event, deliveries, clock.now(), handOff)).claimed;
            } finally {
              options.handOff?.adopt(handOff, keys, claimed);
            }
          }
        } catch (cause) {
          throw new Error(`could not accept event ${envelope.id} into the webhook outbox`, { cause });
        }
      }
      options.hub?.publish(envelope.session, envelope.event, body);
    },
  };
}
