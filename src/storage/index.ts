import type { Logger } from 'pino';
import { openPostgresStorage } from './postgres/open.js';
import { openSqliteStorage } from './sqlite/open.js';
import type { Clock } from '../clock.js';
import type { Storage } from './storage.js';

export type { Storage } from './storage.js';
export type { Lease, LeaseFence, LeaseStore } from './leases.js';
export { LeaseLostError } from './leases.js';
export type { RuntimeStatus, RuntimeStatusStore } from './statuses.js';

export interface OpenStorageOptions {
  /** Directory of the embedded SQLite database (used when `databaseUrl` is null). */
  readonly dataDir: string;
  /** `postgres://…` selects PostgreSQL; null selects SQLite in `dataDir`. */
  readonly databaseUrl: string | null;
  /** PostgreSQL schema holding the tables (created when missing); `public` by default. */
  readonly schema?: string;
  readonly logger?: Logger;
  /** Lease expiry is judged by this clock; the system clock by default (tests inject one). */
  readonly clock?: Pick<Clock, 'now'>;
}

/** Opens the configured backend, with its migrations applied. Close it with `storage.close()`. */
export async function openStorage(options: OpenStorageOptions): Promise<Storage> {
  const logger = options.logger === undefined ? {} : { logger: options.logger };
  const clock = options.clock === undefined ? {} : { clock: options.clock };
  if (options.databaseUrl !== null) {
    return openPostgresStorage({ url: options.databaseUrl, ...(options.schema === undefined ? {} : { schema: options.schema }), ...logger, ...clock });
  }
  return openSqliteStorage({ dataDir: options.dataDir, ...logger, ...clock });
}
