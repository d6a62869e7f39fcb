import type { AuthStores } from './auth.js';
import type { PresenceHistoryStore } from './history.js';
import type { LeaseStore } from './leases.js';
import type { OutboxStore } from './outbox.js';
import type { PresenceStore, SubscriptionStore } from './presence.js';
import type { SessionStore } from './sessions.js';
import type { SettingsStore } from './settings.js';
import type { RuntimeStatusStore } from './statuses.js';

/**
 * Every store of one database, opened together and closed together. `openStorage` (index.ts)
 * picks the backend; each backend builds this object in one place (`sqlite/open.ts`,
 * `postgres/open.ts`), so a new store is one field here and one line in each.
 *
 * Kept apart from index.ts so that the backends can name the type without importing the module
 * that imports them (madge would see a cycle, even through `import type`).
 */
export interface Storage {
  readonly sessions: SessionStore;
  readonly auth: AuthStores;
  readonly presence: PresenceStore;
  readonly subscriptions: SubscriptionStore;
  readonly settings: SettingsStore;
  readonly outbox: OutboxStore;
  /** Session ownership among servers sharing the database (one server on SQLite, same semantics). */
  readonly leases: LeaseStore;
  /** Runtime statuses written by each session's owner, so any server lists every session (several servers). */
  readonly statuses: RuntimeStatusStore;
  /** Presence history (opt-in per session): changes, listening gaps, retention. */
  readonly history: PresenceHistoryStore;
  readonly backend: 'sqlite' | 'postgres';
  /** Closes the database (waits for running queries on PostgreSQL). Idempotent. */
  close(): Promise<void>;
}

