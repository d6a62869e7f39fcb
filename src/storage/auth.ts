import type { LeaseFence } from './leases.js';

/**
 * Credentials and signal keys of one session, as opaque strings. The engine serialises its own
 * structures (Baileys' `BufferJSON`), so storage never learns an engine's types.
 *
 * Keys are addressed by `(category, id)`: Baileys' categories are `creds` (one id, `''`),
 * `pre-key`, `session`, `sender-key`, `app-state-sync-key`, `app-state-sync-version`,
 * `sender-key-memory`, `lid-mapping`, … .
 */
export interface AuthStore {
  /** Values of the ids that exist; missing ids are absent from the result. */
  get(category: string, ids: readonly string[]): Promise<Record<string, string>>;
  /**
   * Writes every entry in one transaction (all or nothing): `null` deletes. A crash never leaves
   * half of a creds/keys update on disk.
   */
  set(entries: readonly AuthEntry[]): Promise<void>;
  /** Deletes everything of this session (logout). */
  clear(): Promise<void>;
}

export interface AuthEntry {
  readonly category: string;
  readonly id: string;
  readonly value: string | null;
}

/** Hands out each session's `AuthStore`. */
export interface AuthStores {
  /**
   * With a `fence` (several servers), `set` and `clear` first check in their transaction that the
   * session's lease is still `fence.owner`'s at `fence.epoch`, and otherwise reject with
   * `LeaseLostError` having written nothing: a server paused past its lease cannot overwrite the
   * new owner's keys. Reads are never fenced. Without a fence, writes are not checked (one server).
   */
  forSession(session: string, fence?: LeaseFence): AuthStore;
}
