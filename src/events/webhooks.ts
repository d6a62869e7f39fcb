import { createHash } from 'node:crypto';
import type { GlobalHookConfig } from '../config.js';
import type { AnyEventEnvelope } from '../presence/events.js';
import type { WebhookConfig } from '../presence/sessions.js';

/**
 * Everything needed to send to one webhook, frozen at publish time and stored with each delivery,
 * so a delivery resumed after a restart goes where (and how) it was meant to even if the session's
 * config changed since.
 */
export interface WebhookTarget {
  readonly url: string;
  readonly hmacKey: string | null;
  readonly customHeaders: readonly { readonly name: string; readonly value: string }[];
  readonly retries: { readonly policy: 'constant' | 'linear' | 'exponential'; readonly delaySeconds: number; readonly attempts: number } | null;
}

export function targetOfWebhook(webhook: WebhookConfig): WebhookTarget {
  return {
    url: webhook.url,
    hmacKey: webhook.hmac?.key ?? null,
    customHeaders: webhook.customHeaders ?? [],
    retries: webhook.retries ?? null,
  };
}

/** Where the environment's `WHATSAPP_HOOK_*` webhook sends: read from the config as it is, not through a session's webhook. */
export function targetOfGlobalHook(hook: GlobalHookConfig): WebhookTarget {
  return { url: hook.url, hmacKey: hook.hmacKey, customHeaders: hook.customHeaders, retries: hook.retries };
}

/** Whether a webhook (a session's, or the global hook) wants the event: `events` holds event names or `*`. */
export function webhookWants(webhook: { readonly events: readonly string[] }, event: string): boolean {
  return webhook.events.includes('*') || webhook.events.includes(event);
}

/**
 * What an event is ordered by, within one webhook: the chat for presence, the session for
 * session-wide events. Deliveries with equal order keys are sent one at a time, oldest first.
 */
export function orderScope(envelope: AnyEventEnvelope): string {
  if (envelope.event === 'presence.update') return `${envelope.session}\u0000chat\u0000${envelope.payload.id}`;
  // Session-wide events (and any event added later without a chat) keep session order.
  return `${envelope.session}\u0000session`;
}

/** Stable identity of a webhook target (its URL): deliveries to one URL share slots and order. */
export function webhookKey(target: WebhookTarget): string {
  return sha1(target.url);
}

export function orderKeyOf(target: WebhookTarget, envelope: AnyEventEnvelope): string {
  return sha1(`${target.url}\u0000${orderScope(envelope)}`);
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}
