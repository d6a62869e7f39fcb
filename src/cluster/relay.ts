import type { Logger } from 'pino';
import { systemClock } from '../clock.js';
import type { Hub } from '../events/hub.js';
import type { EventPublisher } from '../events/publisher.js';
import type { RelayChannel } from '../storage/relay.js';

/**
 * PostgreSQL refuses NOTIFY payloads from 8000 bytes; an event larger than this travels by id and
 * is read back from the outbox (where it is whenever a webhook wanted it).
 */
export const MAX_INLINE_BYTES = 7000;

/** Several messages share one NOTIFY (a JSON array) up to this many bytes, under PostgreSQL's 8000. */
const MAX_PAYLOAD_BYTES = 7900;

/** Messages waiting for a NOTIFY at most; older ones are dropped beyond it (WebSocket delivery is live-only). */
const MAX_QUEUED = 10_000;

interface RelayMessage {
  /** The server that published it: it already handed the event to its own clients. */
  readonly from: string;
  readonly session: string;
  readonly event: string;
  /** The envelope's JSON, or absent when too large (then read by `id`). */
  readonly body?: string;
  readonly id: string;
}

export interface RelayOptions {
  readonly serverId: string;
  /** Where the servers' messages travel (src/storage; PostgreSQL: LISTEN/NOTIFY). Closed by `close`. */
  readonly channel: RelayChannel;
  readonly hub: Hub;
  readonly logger: Logger;
  /** Each event handed to the local hub (metrics: relay lag from the event id's time). */
  readonly onRelayed?: (eventId: string) => void;
  /**
   * Whether another server is live (the cluster's last look at the registry). While none is and
   * no hello was heard within `helloMs`, events are not sent: a NOTIFY per few events is a
   * transaction on a database a lone server shares its CPU with. Absent: always sent.
   */
  readonly othersLive?: () => boolean;
  /** How long a hello (another server starting to listen) counts as a live server; the lease TTL. */
  readonly helloMs?: number;
  readonly now?: () => number;
}

export interface EventRelay {
  /** Wraps the events engine's publisher: after it accepted an envelope, the other servers' WebSocket clients get it too. */
  wrap(publisher: EventPublisher): EventPublisher;
  /** Starts listening for the other servers' events (reconnects by itself until `close`). */
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * WebSocket clients connected to any server receive the events of every session: each accepted
 * envelope is sent with NOTIFY to the other servers, which hand it to their local hub. Live only,
 * like the hub itself: a server that is down misses what was published meanwhile (webhooks, from
 * the durable outbox, do not).
 */
export function createEventRelay(options: RelayOptions): EventRelay {
  const { channel } = options;
  const logger = options.logger.child({ area: 'cluster-events' });

  async function deliver(message: RelayMessage): Promise<void> {
    if (message.from === options.serverId) return;
    let body = message.body;
    if (body === undefined) {
      body = await channel.eventBody(message.id);
      if (body === undefined) {
        logger.warn({ eventId: message.id }, 'a large event from another server is not in the outbox; WebSocket clients here miss it');
        return;
      }
    }
    options.hub.publish(message.session, message.event, body);
    options.onRelayed?.(message.id);
  }

  // A server that starts listening says hello (the channel's empty batch, a no-op for any
  // version), so that the others relay to it before their next look at the registry finds it.
  const HELLO = '[]';
  const now = options.now ?? ((): number => systemClock.now());
  let heardUntil = -Infinity;
  const anyoneListening = (): boolean => options.othersLive === undefined || options.othersLive() || now() < heardUntil;

  function receive(payload: string): void {
    if (payload === HELLO) {
      heardUntil = now() + (options.helloMs ?? 4000);
      return;
    }
    let parsed: RelayMessage | RelayMessage[];
    try {
      parsed = JSON.parse(payload) as RelayMessage | RelayMessage[];
    } catch (error) {
      logger.warn({ err: error }, 'ignoring a malformed event notification');
      return;
    }
    // An array from this version; a single message from a server not yet upgraded.
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
      deliver(message).catch((error: unknown) => logger.error({ err: error, eventId: message.id }, 'could not relay an event from another server'));
    }
  }

  // Outgoing messages (JSON each), sent by one NOTIFY at a time so that they keep their order, as
  // many to a NOTIFY as fit: the publisher does not wait for a round trip per event.
  const outgoing: string[] = [];
  let sending: Promise<void> | null = null;
  let dropped = 0;

  async function sendAll(): Promise<void> {
    try {
      while (outgoing.length > 0) {
        const batch: string[] = [];
        let bytes = 2;
        while (outgoing.length > 0) {
          const next = outgoing[0] ?? '';
          const size = Buffer.byteLength(next) + 1;
          if (batch.length > 0 && bytes + size > MAX_PAYLOAD_BYTES) break;
          batch.push(next);
          bytes += size;
          outgoing.shift();
        }
        try {
          await channel.notify(`[${batch.join(',')}]`);
        } catch (error) {
          // Accepted already (the webhooks have them); only other servers' live clients miss these.
          logger.warn({ err: error, events: batch.length }, 'could not relay events to the other servers');
        }
      }
    } finally {
      // Synchronously after the last look at `outgoing`: a message queued later starts a new sender.
      sending = null;
    }
  }

  function send(message: string): void {
    if (outgoing.length >= MAX_QUEUED) {
      // PostgreSQL is not keeping up: live-only delivery drops rather than growing without bound.
      outgoing.shift();
      dropped += 1;
      if (dropped === 1 || dropped % 1000 === 0) logger.warn({ dropped }, 'event relay queue full: other servers\' WebSocket clients miss events');
    }
    outgoing.push(message);
    sending ??= sendAll();
  }

  return {
    wrap(publisher) {
      return {
        async publish(envelope, webhooks) {
          await publisher.publish(envelope, webhooks);
          if (!anyoneListening()) return;
          const byId: RelayMessage = { from: options.serverId, session: envelope.session, event: envelope.event, id: envelope.id };
          const inline = JSON.stringify({ ...byId, body: JSON.stringify(envelope) });
          // Measured as sent: the body's quotes are escaped inside the message.
          send(Buffer.byteLength(inline) <= MAX_INLINE_BYTES ? inline : JSON.stringify(byId));
        },
      };
    },
    async start() {
      await channel.listen(receive);
      await channel.hello();
    },
    async close() {
      await sending;
      await channel.close();
    },
  };
}
