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

/** An event kept as the hub carried it; what a reader filters on is read from the JSON the first time a reader asks. */
class Kept {
  private parsed: RecentEvent | null = null;
  constructor(readonly body: string) {}
  get event(): RecentEvent {
    if (this.parsed === null) {
      const { id, session, event } = JSON.parse(this.body) as { id: string; session: string; event: string };
      this.parsed = { id, session, event, chat: event === 'presence.update' ? chatOf(this.body) : null, body: this.body };
    }
    return this.parsed;
  }
}

/**
 * The last `capacity` events this server's hub carried (its own sessions' and, with several servers,
 * the relayed ones), in memory: what the dashboard's event stream backfills from when it opens and
 * after its WebSocket reconnects, so a reload or a dropped connection leaves no gap. Not durable:
 * it starts empty with the process, and the webhook outbox stays the record of what was delivered.
 *
 * On the presence path every event passes through here, so keeping one costs a slot in a fixed
 * ring and nothing else: the JSON is parsed only when the dashboard reads (rarely, a page at a time).
 */
export function createRecentEvents(hub: Hub, capacity = 2000): RecentEvents {
  if (!(capacity >= 1)) throw new RangeError(`recent events need a capacity of at least 1, got ${capacity}`);
  const ring: (Kept | undefined)[] = new Array<Kept | undefined>(capacity);
  /** Where the next event goes; once full, also the oldest. */
  let next = 0;
  let count = 0;
  const at = (age: number): Kept | undefined => ring[(next - count + age + capacity) % capacity];
  const unsubscribe = hub.subscribe(
    { session: '*', events: ['*'] },
    {
      bufferedAmount: 0,
      send(body) {
        ring[next] = new Kept(body);
        next = (next + 1) % capacity;
        if (count < capacity) count += 1;
      },
      close() {
        // The hub closes only clients that read too slowly; this one never buffers.
      },
    },
  );
  return {
    list(query) {
      const out: RecentEvent[] = [];
      for (let age = count - 1; age >= 0 && out.length < query.limit; age -= 1) {
        const item = at(age)?.event;
        if (item === undefined) continue;
        if (query.after !== null && item.id <= query.after) continue;
        if (query.session !== null && item.session !== query.session) continue;
        if (query.event !== null && item.event !== query.event) continue;
        if (query.chat !== null && item.chat !== query.chat) continue;
        out.push(item);
      }
      return out.reverse();
    },
    size: () => count,
    oldestId: () => (count === 0 ? null : (at(0)?.event.id ?? null)),
    close: unsubscribe,
  };
}
