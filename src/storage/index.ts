import type { Logger } from 'pino';
import { openPostgresStorage } from './postgres/open.js';
import { openSqliteStorage } from './sqlite/open.js';
import type { Storage } from './storage.js';

export type { Storage, Clock } from './storage.js';

export interface OpenStorageOptions {
  /** Directory of the embedded SQLite database (used when `databaseUrl` is null). */
  readonly dataDir: string;
  /** `postgres://…` selects PostgreSQL; null selects SQLite in `dataDir`. */
  readonly databaseUrl: string | null;
  /** PostgreSQL schema holding the tables (created when missing); `public` by default. */
  readonly schema?: string;
  readonly logger?: Logger;
}

/** Opens the configured backend, with its migrations applied. Close it with `storage.close()`. */
export async function openStorage(options: OpenStorageOptions): Promise<Storage> {
  const logger = options.logger === undefined ? {} : { logger: options.logger };
  if (options.databaseUrl !== null) {
    return openPostgresStorage({ url: options.databaseUrl, ...(options.schema === undefined ? {} : { schema: options.schema }), ...logger });
  }
  return openSqliteStorage({ dataDir: options.dataDir, ...logger });
}
