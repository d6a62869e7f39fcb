import pg from 'pg';
import type { Logger } from 'pino';
import type { Hub } from '../events/hub.js';
import type { EventPublisher } from '../events/publisher.js';
import type { PgPool } from '../storage/postgres/database.js';

/** The NOTIFY channel every server of one schema listens on (the schema is in the name: one cluster per schema). */
export function relayChannel(schema: string): string {
  return `wa_presence_events_${schema}`;
}

/**
 * PostgreSQL refuses NOTIFY payloads from 8000 bytes; an event larger than this travels by id and
 * is read back from the outbox (where it is whenever a webhook wanted it).
 */
export const MAX_INLINE_BYTES = 7000;

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
  readonly url: string;
  readonly schema: string;
  /** For NOTIFY and reading large bodies back. */
  readonly pool: PgPool;
  readonly hub: Hub;
  readonly logger: Logger;
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
  const channel = relayChannel(options.schema);
  const logger = options.logger.child({ area: 'cluster-events' });
  let listener: pg.Client | null = null;
  let closed = false;
  let retry: NodeJS.Timeout | null = null;

  async function deliver(message: RelayMessage): Promise<void> {
    if (message.from === options.serverId) return;
    let body = message.body;
    if (body === undefined) {
      const { rows } = await options.pool.query<{ body: string }>('SELECT body FROM outbox_events WHERE id = $1', [message.id]);
      body = rows[0]?.body;
      if (body === undefined) {
        logger.warn({ eventId: message.id }, 'a large event from another server is not in the outbox; WebSocket clients here miss it');
        return;
      }
    }
    options.hub.publish(message.session, message.event, body);
  }

  async function listen(): Promise<void> {
    const client = new pg.Client({ connectionString: options.url });
    client.on('notification', (notification) => {
      if (notification.channel !== channel || notification.payload === undefined) return;
      let message: RelayMessage;
      try {
        message = JSON.parse(notification.payload) as RelayMessage;
      } catch (error) {
        logger.warn({ err: error }, 'ignoring a malformed event notification');
        return;
      }
      deliver(message).catch((error: unknown) => logger.error({ err: error, eventId: message.id }, 'could not relay an event from another server'));
    });
    client.on('error', (error) => {
      logger.warn({ err: error }, 'event relay connection lost; reconnecting');
      if (listener === client) listener = null;
      client.end().catch(() => undefined);
      schedule();
    });
    await client.connect();
    await client.query(`LISTEN "${channel}"`);
    listener = client;
  }

  function schedule(): void {
    if (closed || retry !== null) return;
    retry = setTimeout(() => {
      retry = null;
      listen().catch((error: unknown) => {
        logger.warn({ err: error }, 'event relay could not listen; retrying');
        schedule();
      });
    }, 1000);
  }

  return {
    wrap(publisher) {
      return {
        async publish(envelope, webhooks) {
          await publisher.publish(envelope, webhooks);
          const body = JSON.stringify(envelope);
          const inline = Buffer.byteLength(body) <= MAX_INLINE_BYTES;
          const message: RelayMessage = {
            from: options.serverId,
            session: envelope.session,
            event: envelope.event,
            id: envelope.id,
            ...(inline ? { body } : {}),
          };
          try {
            await options.pool.query('SELECT pg_notify($1, $2)', [channel, JSON.stringify(message)]);
          } catch (error) {
            // Accepted already (the webhooks have it); only other servers' live clients miss it.
            logger.warn({ err: error, eventId: envelope.id }, 'could not relay an event to the other servers');
          }
        },
      };
    },
    async start() {
      await listen();
    },
    async close() {
      closed = true;
      if (retry !== null) clearTimeout(retry);
      const client = listener;
      listener = null;
      await client?.end();
    },
  };
}
