import { SERVER_VERSION } from '../../src/events/envelope.js';
import { wahaEnvironment } from '../../src/events/environment.js';
import type { EventPublisher, SessionEvents } from '../../src/events/publisher.js';
import { createSessionEvents } from '../../src/events/session-events.js';
import type { AnyEventEnvelope, EventName } from '../../src/presence/events.js';
import type { WebhookConfig } from '../../src/presence/sessions.js';

/** Test double of the events engine: keeps every published envelope with the webhooks it was given. */
export class RecordingPublisher implements EventPublisher {
  readonly published: { readonly envelope: AnyEventEnvelope; readonly webhooks: readonly WebhookConfig[] }[] = [];
  private failures: Error[] = [];

  /** The next `count` publishes reject with `error` (after being recorded). */
  failNext(error: Error, count = 1): void {
    for (let i = 0; i < count; i += 1) this.failures.push(error);
  }

  publish(envelope: AnyEventEnvelope, webhooks: readonly WebhookConfig[]): Promise<void> {
    this.published.push({ envelope, webhooks });
    const failure = this.failures.shift();
    return failure === undefined ? Promise.resolve() : Promise.reject(failure);
  }

  envelopes(event?: EventName, session?: string): AnyEventEnvelope[] {
    return this.published
      .map((entry) => entry.envelope)
      .filter((envelope) => (event === undefined || envelope.event === event) && (session === undefined || envelope.session === session));
  }

  /** The `session.status` values published for the session, in order. */
  statuses(session: string): string[] {
    return this.envelopes('session.status', session).map((envelope) => (envelope.event === 'session.status' ? envelope.payload.status : ''));
  }
}

/** The envelope `environment` tests build with (server id `test-server`). */
export const TEST_ENVIRONMENT = wahaEnvironment(SERVER_VERSION, 'test-server');

/** The session layer's events port over a publisher (a RecordingPublisher): src/events' own envelope builder. */
export function sessionEventsOver(publisher: EventPublisher): SessionEvents {
  return createSessionEvents({ publisher, environment: TEST_ENVIRONMENT });
}
