import { systemClock } from '../../clock.js';
import type { Logger } from 'pino';
import type { ClusterStores } from '../cluster.js';
import { createPool } from './database.js';
import { startLeaseRenewer } from './lease-renewer.js';
import { createPostgresLeaseStore } from './leases.js';
import { createPostgresRelayChannel } from './relay.js';
import { createPostgresServerRegistry } from './servers.js';
import { createPostgresSessionStore } from './sessions.js';
import { createPostgresStatusStore } from './statuses.js';

export interface PostgresClusterOptions {
  readonly url: string;
  readonly schema: string;
  readonly logger: Logger;
}

/**
 * What several servers need from PostgreSQL, on two small pools of their own: one for the
 * heartbeat (renewals must not queue behind the engines' key writes, the outbox or request
 * lookups), one for lookups and the event relay. Same tables, same semantics as the `Storage`.
 */
export function openPostgresClusterStores(options: PostgresClusterOptions): ClusterStores {
  const { url, schema, logger } = options;
  const heartbeatPool = createPool({ url, schema, max: 2, logger });
  const lookupPool = createPool({ url, schema, max: 4, logger });
  return {
    heartbeat: {
      leases: createPostgresLeaseStore(heartbeatPool, systemClock),
      sessions: createPostgresSessionStore(heartbeatPool),
      servers: createPostgresServerRegistry(heartbeatPool),
    },
    lookups: {
      servers: createPostgresServerRegistry(lookupPool),
      statuses: createPostgresStatusStore(lookupPool),
      leases: createPostgresLeaseStore(lookupPool, systemClock),
    },
    relayChannel: (channelLogger) => createPostgresRelayChannel({ url, schema, pool: lookupPool, logger: channelLogger }),
    startRenewer: (renewer) => startLeaseRenewer({ ...renewer, url, schema }),
    async close() {
      await Promise.all([heartbeatPool.end(), lookupPool.end()]);
    },
  };
}
