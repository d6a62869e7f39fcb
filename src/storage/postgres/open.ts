import type { Logger } from 'pino';
import { systemClock } from '../../clock.js';
import type { Clock } from '../../clock.js';
import type { Storage } from '../storage.js';
import { createPostgresAuthStores } from './auth.js';
import { checkSchemaName, createPool, migratePostgres } from './database.js';
import { createPostgresHistoryStore } from './history.js';
import { createPostgresLeaseStore } from './leases.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';
import { createPostgresOutboxStore } from './outbox.js';
import { createPostgresPresenceStore, createPostgresSubscriptionStore } from './presence.js';
import { createPostgresSessionStore } from './sessions.js';
import { createPostgresSettingsStore } from './settings.js';
import { createPostgresStatusStore } from './statuses.js';

export interface PostgresStorageOptions {
  /** `postgres://…` */
  readonly url: string;
  /** Holds every table; created when missing. `public` by default. */
  readonly schema?: string;
  /** Connections of the main pool (10 by default); presence puts have 2 more of their own. */
  readonly poolSize?: number;
  readonly logger?: Logger;
  /** Lease expiry is judged by this clock; the system clock by default. */
  readonly clock?: Pick<Clock, 'now'>;
}

/** Connects, applies pending migrations (under an advisory lock) and builds every store on the pool. */
export async function openPostgresStorage(options: PostgresStorageOptions): Promise<Storage> {
  const schema = checkSchemaName(options.schema ?? 'public');
  const pool = createPool({
    url: options.url,
    schema,
    ...(options.poolSize === undefined ? {} : { max: options.poolSize }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  try {
    await migratePostgres(pool, schema, POSTGRES_MIGRATIONS, options.logger);
  } catch (error) {
    await pool.end();
    throw new Error(`cannot open PostgreSQL storage in schema "${schema}"`, { cause: error });
  }
  // Presence puts only (see createPostgresPresenceStore): commits that do not wait for the disk.
  const relaxedPool = createPool({
    url: options.url,
    schema,
    max: 2,
    synchronousCommit: false,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  let closing: Promise<void> | null = null;
  return {
    backend: 'postgres',
    sessions: createPostgresSessionStore(pool),
    auth: createPostgresAuthStores(pool),
    presence: createPostgresPresenceStore(pool, relaxedPool),
    subscriptions: createPostgresSubscriptionStore(pool),
    settings: createPostgresSettingsStore(pool),
    leases: createPostgresLeaseStore(pool, options.clock ?? systemClock),
    statuses: createPostgresStatusStore(pool),
    outbox: createPostgresOutboxStore(pool),
    history: createPostgresHistoryStore(pool, schema),
    // pool.end() throws when called twice; every caller waits for the one close.
    close: () => (closing ??= Promise.all([pool.end(), relaxedPool.end()]).then(() => undefined)),
  };
}
