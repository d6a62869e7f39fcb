/**
 * Live fan-out of envelopes to connected clients (the WebSocket route), independent of any
 * transport: a client is anything that can send a string, tell how much it has not flushed yet,
 * and be closed. Nothing here is durable: a client sees what is published while it is connected.
 */

/** The part of a socket the hub uses (a `ws` WebSocket fits as is). */
export interface HubClient {
  send(data: string): void;
  /** Bytes queued but not yet written to the network. */
  readonly bufferedAmount: number;
  close(code: number, reason: string): void;
}

export interface HubFilter {
  /** A session name, or `*` for every session. */
  readonly session: string;
  /** Event names, or `['*']` for every event. */
  readonly events: readonly string[];
}

export interface Hub {
  /** Adds a client; returns the function that removes it (idempotent). */
  subscribe(filter: HubFilter, client: HubClient): () => void;
  /** Sends `body` (the envelope's JSON) to every client whose filter matches. */
  publish(session: string, event: string, body: string): void;
  /** Connected clients right now. */
  size(): number;
}

/** Closed because the client reads slower than events arrive (RFC 6455 "try again later"). */
export const CLOSE_TOO_SLOW = 1013;

export interface HubOptions {
  /**
   * A client with more than this many bytes not yet flushed is disconnected instead of buffering
   * without bound: one stalled browser tab cannot grow the server's memory.
   */
  readonly maxBufferedBytes: number;
}

export const DEFAULT_HUB_OPTIONS: HubOptions = { maxBufferedBytes: 4 * 1024 * 1024 };

export function matchesFilter(filter: HubFilter, session: string, event: string): boolean {
  return (filter.session === '*' || filter.session === session) && (filter.events.includes('*') || filter.events.includes(event));
}

export function createHub(options: HubOptions = DEFAULT_HUB_OPTIONS): Hub {
  const clients = new Map<HubClient, HubFilter>();

  function drop(client: HubClient): void {
    clients.delete(client);
    client.close(CLOSE_TOO_SLOW, `client too slow: more than ${options.maxBufferedBytes} bytes not read`);
  }

  return {
    subscribe(filter, client) {
      clients.set(client, filter);
      return () => {
        clients.delete(client);
      };
    },
    publish(session, event, body) {
      for (const [client, filter] of clients) {
        if (!matchesFilter(filter, session, event)) continue;
        if (client.bufferedAmount + Buffer.byteLength(body) > options.maxBufferedBytes) {
          drop(client);
          continue;
        }
        try {
          client.send(body);
        } catch {
          // A socket that cannot take a message any more (closing under us) is dropped: it must not
          // fail the publish, which the outbox has already accepted.
          clients.delete(client);
        }
      }
    },
    size() {
      return clients.size;
    },
  };
}
