import { createHash } from 'node:crypto';
import type { WebhookConfig } from '../presence/sessions.js';
import type { Me } from '../presence/sessions.js';
import type { EventEnvironment } from '../presence/events.js';
import type { OutboxStore } from '../storage/outbox.js';
import { newEventId } from './envelope.js';
import { targetOfWebhook, webhookKey } from './webhooks.js';

/** The event name of a test delivery: not one of the events a session emits, so receivers can tell it apart. */
export const TEST_EVENT = 'webhook.test';

/**
 * Puts one test event into the outbox for one webhook only (the dashboard's "send test event"):
 * WAHA's envelope with event `webhook.test`, sent, retried, listed and replayable like any other
 * delivery, so the deliveries view shows whether the receiver answers. Returns the event id.
 */
export async function enqueueTestEvent(
  outbox: OutboxStore,
  input: { readonly session: string; readonly me: Me | null; readonly metadata: Readonly<Record<string, string>> | null; readonly webhook: WebhookConfig;
    /** This server's, as in every envelope it sends. */
    readonly environment: EventEnvironment;
  },
  now: number,
): Promise<string> {
  const id = newEventId(now);
  const envelope = {
    id,
    timestamp: now,
    event: TEST_EVENT,
    session: input.session,
    metadata: input.metadata,
    me: input.me,
    engine: 'NOWEB',
    environment: input.environment,
    payload: { message: 'A test event sent from the wa-presence dashboard: this webhook receives events.' },
  };
  const target = targetOfWebhook(input.webhook);
  // Its own order key: a test never waits behind (or holds back) the session's real events.
  const orderKey = createHash('sha1').update(`${target.url}\u0000${input.session}\u0000test\u0000${id}`).digest('hex');
  await outbox.enqueue(
    { id, session: input.session, event: TEST_EVENT, body: JSON.stringify(envelope) },
    [{ url: target.url, webhookKey: webhookKey(target), orderKey, target: JSON.stringify(target) }],
    now,
  );
  return id;
}
