/**
 * A channel between the servers of one database for live events (the WebSocket relay of
 * src/cluster): best effort, live only, in order per sender. PostgreSQL: LISTEN/NOTIFY.
 */
export interface RelayChannel {
  /** Sends one payload to every server listening, this one included. */
  notify(payload: string): Promise<void>;
  /**
   * Starts listening: `onPayload` gets every payload sent from now on. A lost connection is
   * reconnected by the channel itself until `close` (payloads sent meanwhile are missed).
   */
  listen(onPayload: (payload: string) => void): Promise<void>;
  /**
   * After `listen`: tells every other listener that this one listens now; they get the payload
   * `[]` (an empty batch, which any version ignores), this listener does not.
   */
  hello(): Promise<void>;
  /** An accepted event's envelope JSON by id, read back from the outbox; undefined when not there. */
  eventBody(id: string): Promise<string | undefined>;
  close(): Promise<void>;
}
