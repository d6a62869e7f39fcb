import type { Hub } from './hub.js';

/** One event as the hub carried it: the envelope's JSON and the fields a reader filters on. */
export interface RecentEvent {
  readonly id: string;
  readonly session: string;
  readonly event: string;
  /** The chat of a presence update, null for session-wide events. */
  readonly chat: string | null;
  readonly body: string;
}

export interface RecentQuery {
  /** Only events with a greater id (ids sort by time). */
  readonly after: string | null;
  readonly session: string | null;
  readonly event: string | null;
  readonly chat: string | null;
  /** At most this many, the newest ones. */
  readonly limit: number;
}

export interface RecentEvents {
  /** Events matching the query, oldest first. */
  list(query: RecentQuery): RecentEvent[];
  /** Events kept right now (at most the capacity). */
  size(): number;
  /** The oldest id still kept, or null when empty: a reader whose `after` is older may have missed some. */
  oldestId(): string | null;
  /** Stops listening to the hub. */
  close(): void;
}

function chatOf(body: string): string | null {
  try {
    const parsed = JSON.parse(body) as { payload?: { id?: unknown } };
    return typeof parsed.payload?.id === 'string' ? parsed.payload.id : null;
  } catch {
    // The hub only carries envelopes we serialised; a body that does not parse has no chat to index.
    return null;
  }
}

/**
 * The last `capacity` events this server's hub carried (its own sessions' and, with several servers,
 * the relayed ones), in memory: what the dashboard's event stream backfills from when it opens and
 * after its WebSocket reconnects, so a reload or a dropped connection leaves no gap. Not durable:
 * it starts empty with the process, and the webhook outbox stays the record of what was delivered.
 */
export function createRecentEvents(hub: Hub, capacity = 2000): RecentEvents {
  const ring: RecentEvent[] = [];
  const unsubscribe = hub.subscribe(
    { session: '*', events: ['*'] },
    {
      bufferedAmount: 0,
      send(body) {
        const parsed = JSON.parse(body) as { id: string; session: string; event: string };
        ring.push({ id: parsed.id, session: parsed.session, event: parsed.event, chat: parsed.event === 'presence.update' ? chatOf(body) : null, body });
        if (ring.length > capacity) ring.splice(0, ring.length - capacity);
      },
      close() {
        // The hub closes only clients that read too slowly; this one never buffers.
      },
    },
  );
  return {
    list(query) {
      const out: RecentEvent[] = [];
      for (let i = ring.length - 1; i >= 0 && out.length < query.limit; i -= 1) {
        const item = ring[i];
        if (item === undefined) continue;
        if (query.after !== null && item.id <= query.after) continue;
        if (query.session !== null && item.session !== query.session) continue;
        if (query.event !== null && item.event !== query.event) continue;
        if (query.chat !== null && item.chat !== query.chat) continue;
        out.push(item);
      }
      return out.reverse();
    },
    size: () => ring.length,
    oldestId: () => ring[0]?.id ?? null,
    close: unsubscribe,
  };
}
