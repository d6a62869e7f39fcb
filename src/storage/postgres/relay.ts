import pg from 'pg';
import type { Logger } from 'pino';
import type { RelayChannel } from '../relay.js';
import type { PgPool } from './database.js';

/** The NOTIFY channel every server of one schema listens on (the schema is in the name: one cluster per schema). */
export function relayChannel(schema: string): string {
  return `wa_presence_events_${schema}`;
}

export interface PostgresRelayOptions {
  readonly url: string;
  readonly schema: string;
  /** For NOTIFY and reading event bodies back from the outbox. */
  readonly pool: PgPool;
  readonly logger: Logger;
}

/** `RelayChannel` over LISTEN/NOTIFY: a listening connection of its own, reconnected every second while lost. */
export function createPostgresRelayChannel(options: PostgresRelayOptions): RelayChannel {
  const channel = relayChannel(options.schema);
  const { logger } = options;
  let listener: pg.Client | null = null;
  let closed = false;
  let retry: NodeJS.Timeout | null = null;
  let handler: ((payload: string) => void) | null = null;

  async function listen(): Promise<void> {
    const client = new pg.Client({ connectionString: options.url });
    let ownPid: number | null = null;
    client.on('notification', (notification) => {
      if (notification.channel !== channel || notification.payload === undefined) return;
      // Sent on this very connection: only the hello is, and it is for the others.
      if (notification.processId === ownPid) return;
      handler?.(notification.payload);
    });
    client.on('error', (error) => {
      logger.warn({ err: error }, 'event relay connection lost; reconnecting');
      if (listener === client) listener = null;
      client.end().catch(() => undefined);
      schedule();
    });
    await client.connect();
    ownPid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? null;
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
    async notify(payload) {
      await options.pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    async listen(onPayload) {
      handler = onPayload;
      await listen();
    },
    async hello() {
      // On the listening connection, so that its own notification can be told apart (by backend pid).
      await listener?.query(`NOTIFY "${channel}", '[]'`);
    },
    async eventBody(id) {
      const { rows } = await options.pool.query<{ body: string }>('SELECT body FROM outbox_events WHERE id = $1', [id]);
      return rows[0]?.body;
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
