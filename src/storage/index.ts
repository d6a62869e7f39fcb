import type { Logger } from 'pino';
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
  if (options.databaseUrl !== null) {
    throw new Error('PostgreSQL storage is not available yet; unset WA_PRESENCE_DATABASE_URL to use SQLite');
  }
  return openSqliteStorage({ dataDir: options.dataDir, ...(options.logger === undefined ? {} : { logger: options.logger }) });
}
