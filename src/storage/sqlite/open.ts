import type { Logger } from 'pino';
import { systemClock } from '../../clock.js';
import type { Clock } from '../../clock.js';
import type { Storage } from '../storage.js';
import { createSqliteAuthStores } from './auth.js';
import { startCheckpointer } from './checkpointer.js';
import { migrateSqlite, openSqliteDatabase } from './database.js';
import { createGroupCommit } from './group-commit.js';
import { createSqliteHistoryStore } from './history.js';
import { createSqliteLeaseStore } from './leases.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { createSqliteOutboxStore } from './outbox.js';
import { createSqlitePresenceStore, createSqliteSubscriptionStore } from './presence.js';
import { createSqliteSessionStore } from './sessions.js';
import { createSqliteSettingsStore } from './settings.js';
import { createSqliteStatusStore } from './statuses.js';

export interface SqliteStorageOptions {
  /** Holds `wa-presence.sqlite`; created with the file when missing. */
  readonly dataDir: string;
  readonly logger?: Logger;
  /** Lease expiry is judged by this clock; the system clock by default. */
  readonly clock?: Pick<Clock, 'now'>;
}

/** Opens the embedded database, applies pending migrations and builds every store on it. */
export async function openSqliteStorage(options: SqliteStorageOptions): Promise<Storage> {
  const db = openSqliteDatabase(options.dataDir);
  try {
    migrateSqlite(db, SQLITE_MIGRATIONS, options.logger);
  } catch (error) {
    db.close();
    throw error;
  }
  const checkpointer = await startCheckpointer(db, options.logger === undefined ? {} : { logger: options.logger });
  // One for the database: the presence puts and the outbox's writes of a turn share a commit.
  const grouped = createGroupCommit(db);
  let closed: Promise<void> | null = null;
  return {
    backend: 'sqlite',
    sessions: createSqliteSessionStore(db),
    auth: createSqliteAuthStores(db),
    presence: createSqlitePresenceStore(db, grouped),
    subscriptions: createSqliteSubscriptionStore(db),
    settings: createSqliteSettingsStore(db),
    leases: createSqliteLeaseStore(db, options.clock ?? systemClock),
    statuses: createSqliteStatusStore(db),
    outbox: createSqliteOutboxStore(db, grouped),
    history: createSqliteHistoryStore(db),
    close: () => {
      closed ??= (async () => {
        await checkpointer?.stop();
        // It checkpoints the WAL when this is the last connection.
        db.close();
      })();
      return closed;
    },
  };
}
