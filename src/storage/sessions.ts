import type { EngineName, Me, SessionConfig } from '../presence/sessions.js';

/** A session as stored: what the user asked for, not what the engine is doing right now. */
export interface StoredSession {
  readonly name: string;
  readonly engine: EngineName;
  readonly config: SessionConfig;
  /**
   * True while the user wants the session running (after start, until stop/logout). A server that
   * restarts starts every session with `running: true` again, from its stored credentials.
   */
  readonly running: boolean;
  /** The account, once known; kept so `GET /me` answers while the session is stopped. */
  readonly me: Me | null;
  /** Global presence last set through the API, re-sent after every reconnect; null when never set. */
  readonly presence: 'online' | 'offline' | null;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** Sessions by name. Names are unique; writes replace the whole record. */
export interface SessionStore {
  list(): Promise<StoredSession[]>;
  get(name: string): Promise<StoredSession | null>;
  /** Inserts, failing with `false` when the name is taken (nothing changes then). */
  create(session: StoredSession): Promise<boolean>;
  /** Replaces an existing session; `false` when there is none. */
  update(session: StoredSession): Promise<boolean>;
  /** Removes the session and everything stored under it (auth, presence, subscriptions). */
  delete(name: string): Promise<boolean>;
}
