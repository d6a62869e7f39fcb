import type { AnyEventEnvelope, AnySessionFact, EventEnvironment } from '../presence/events.js';
import type { EnvelopeSource } from './envelope.js';
import { makeEnvelope } from './envelope.js';
import type { EventPublisher, EventSubject, SessionEvents } from './publisher.js';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';

export interface SessionEventsOptions {
  /** The publisher chain (outbox, relay, metrics) the envelopes go to. */
  readonly publisher: EventPublisher;
  /** This server's `wahaEnvironment(SERVER_VERSION, serverId)`: built once, the same in every envelope. */
  readonly environment: EventEnvironment;
  /** Milliseconds since the epoch: the envelope's `timestamp` and its id's time. */
  readonly clock?: Pick<Clock, 'now'>;
}

/** WAHA's envelope around one fact of a session. */
export function envelopeOf(fact: AnySessionFact, subject: EventSubject, environment: EventEnvironment, now: number): AnyEventEnvelope {
  const source: EnvelopeSource = { session: fact.session, metadata: subject.config.metadata ?? null, me: subject.me, engine: subject.engine };
  // One case per event: the payload's type follows the name, checked by the compiler.
  switch (fact.event) {
    case 'presence.update':
      return makeEnvelope(fact.event, fact.payload, source, environment, now);
    case 'session.status':
      return makeEnvelope(fact.event, fact.payload, source, environment, now);
  }
}

/**
 * The events module's side of the session layer's port: each fact becomes WAHA's envelope and goes
 * to the publisher with the session's webhooks (the publisher adds the global one).
 */
export function createSessionEvents(options: SessionEventsOptions): SessionEvents {
  const clock = options.clock ?? systemClock;
  return {
    async emit(fact, subject) {
      const envelope = envelopeOf(fact, subject, options.environment, clock.now());
      try {
        await options.publisher.publish(envelope, subject.config.webhooks ?? []);
      } catch (cause) {
        // Named by its id, so the log line of the session layer (which never saw the envelope) says which.
        throw new Error(`${fact.event} event ${envelope.id} of session "${fact.session}" was not accepted`, { cause });
      }
      return envelope.id;
    },
  };
}
