/** A live server: its id (the lease owner name) and the base URL other servers reach it at. */
export interface ServerInfo {
  readonly id: string;
  readonly url: string;
  readonly startedAt: number;
  readonly expiresAt: number;
}

/**
 * The registry of live servers (PostgreSQL: the `servers` table, migration 200): every server announces itself and refreshes its
 * row with each heartbeat; a row past `expiresAt` is a dead server. Used to forward a request to
 * the server that runs its session and to spread sessions evenly over the live servers.
 */
export interface ServerRegistry {
  /** Inserts or refreshes this server's row until now + ttlMs. */
  announce(server: { readonly id: string; readonly url: string }, ttlMs: number): Promise<void>;
  /** Removes this server's row (clean shutdown). */
  withdraw(id: string): Promise<void>;
  /** Live servers, by id. */
  live(): Promise<ServerInfo[]>;
  /** The base URL of the live server that holds `session`'s live lease, with its id; null when none. */
  ownerOf(session: string): Promise<{ readonly id: string; readonly url: string } | null>;
  /** Sessions stored, for the fair share of each live server. */
  sessionCount(): Promise<number>;
}

