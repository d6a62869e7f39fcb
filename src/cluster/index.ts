import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Lease, LeaseFence, Storage } from '../storage/index.js';
import { createPool } from '../storage/postgres/database.js';
import { createPostgresLeaseStore } from '../storage/postgres/leases.js';
import { createPostgresSessionStore } from '../storage/postgres/sessions.js';
import { createPostgresStatusStore } from '../storage/postgres/statuses.js';
import type { StoredSession } from '../storage/sessions.js';
import type { SharedStatus } from '../sessions/manager.js';
import type { SessionLocator } from '../http/forward.js';
import { assertSessionName } from '../sessions/validate.js';
import { createOwnership } from './ownership.js';
import type { LocalSessions, Ownership } from './ownership.js';
import { createEventRelay } from './relay.js';
import type { EventRelay } from './relay.js';
import { createServerRegistry } from './servers.js';
import { createSharedStatuses } from './statuses.js';
import { startLeaseRenewer } from './renewer.js';
import type { Hub } from '../events/hub.js';
import type { ServerRegistry } from './servers.js';

export type { LocalSessions, Ownership } from './ownership.js';

export interface ClusterOptions {
  readonly config: Pick<Config, 'serverId' | 'maxSessions' | 'leaseTtlMs' | 'databaseUrl' | 'databaseSchema'>;
  readonly storage: Storage;
  readonly logger: Logger;
  /** The session manager's local part; called only once `start` ran (the manager is built after the cluster). */
  readonly local: LocalSessions;
  /** Tests shorten it; a third of the lease TTL by default. */
  readonly heartbeatMs?: number;
  /** How long the main thread may stall before its leases are left to run out; 3 × TTL by default (tests shorten it). */
  readonly stallBoundMs?: number;
  /** Metrics: told of each background lease renewal (how many leases it renewed) and each event relayed from another server. */
  readonly observer?: ClusterObserver;
}

export interface ClusterObserver {
  leasesRenewed(count: number): void;
  relayed(eventId: string): void;
}

/**
 * Several servers on one PostgreSQL database: session ownership (leases, fencing, failover), the
 * registry of live servers (where to forward a request), and their wiring. Built before the app
 * (whose session manager takes `claim`), started after the server listens.
 */
export interface Cluster {
  readonly ownership: Ownership;
  readonly registry: ServerRegistry;
  /** For the HTTP forwarding hook. */
  readonly locator: SessionLocator;
  /** Relays accepted events to the other servers' WebSocket clients and theirs to `hub`; wrap the publisher with it. Closed by `close`. */
  relayEvents(hub: Hub): EventRelay;
  /** Hand this to the session manager (`AppDeps.claim`). */
  claim(session: string): Promise<LeaseFence>;
  /** Hand this to the session manager (`AppDeps.sharedStatuses`): the list then reports every session as its owner would. */
  sharedStatuses(sessions: readonly StoredSession[]): Promise<Map<string, SharedStatus>>;
  /** Announces this server at `url`, marks `startSessions` as wanted running, and starts the heartbeat. */
  start(url: string, startSessions: readonly string[]): Promise<void>;
  /** Ends the heartbeat: no session is taken or started from now on (first step of a shutdown). */
  stopHeartbeat(): Promise<void>;
  /** After the engines stopped: hands every lease back at once, withdraws the server, closes the connections. */
  close(): Promise<void>;
}

export function createCluster(options: ClusterOptions): Cluster {
  const { config, storage } = options;
  if (config.databaseUrl === null) throw new Error('several servers need PostgreSQL: set WA_PRESENCE_DATABASE_URL');
  const logger = options.logger.child({ area: 'cluster' });
  // The heartbeat has connections of its own: a renewal must not queue behind the engines' key
  // writes and the outbox (storage pool) nor behind request forwarding lookups (lookup pool), or a
  // busy server loses its sessions. Same tables, same semantics as `storage.leases`.
  const heartbeatPool = createPool({ url: config.databaseUrl, schema: config.databaseSchema, max: 2, logger });
  const lookupPool = createPool({ url: config.databaseUrl, schema: config.databaseSchema, max: 4, logger });
  const registry = createServerRegistry(heartbeatPool);
  const lookups = createServerRegistry(lookupPool);
  const heartbeatMs = options.heartbeatMs ?? Math.max(1, Math.floor(config.leaseTtlMs / 3));
  // The renewer is built first and tells the ownership loop of its own renewals once that exists.
  let refresh: ((renewed: readonly Lease[]) => void) | null = null;
  // Renewals run in a thread of their own (renewer.ts), so that a stall of this event loop
  // (Baileys' crypto, a burst of pairings) shorter than the bound does not lose every lease.
  const renewer = startLeaseRenewer({
    url: config.databaseUrl,
    schema: config.databaseSchema,
    serverId: config.serverId,
    ttlMs: config.leaseTtlMs,
    periodMs: heartbeatMs,
    ...(options.stallBoundMs === undefined ? {} : { boundMs: options.stallBoundMs }),
    logger,
    onRenewed: (renewed) => {
      options.observer?.leasesRenewed(renewed.length);
      refresh?.(renewed);
    },
  });
  const leases = { ...createPostgresLeaseStore(heartbeatPool, Date.now), renew: (owner: string, ttlMs: number) => renewer.renew(owner, ttlMs) };
  // Reads for requests (the session list) go with the forwarding lookups, off the heartbeat's connections.
  const sharedStatuses = createSharedStatuses({ statuses: createPostgresStatusStore(lookupPool), leases: createPostgresLeaseStore(lookupPool, Date.now) });
  let advertised: string | null = null;
  const relays: EventRelay[] = [];

  const ownership = createOwnership({
    serverId: config.serverId,
    leases,
    sessions: createPostgresSessionStore(heartbeatPool),
    local: options.local,
    capacity: config.maxSessions,
    ttlMs: config.leaseTtlMs,
    heartbeatMs,
    logger,
    onHeartbeat: async () => {
      if (advertised !== null) await registry.announce({ id: config.serverId, url: advertised }, config.leaseTtlMs);
    },
    // Servers that start together spread the sessions instead of the first one taking them all.
    share: async () => {
      const [count, live] = await Promise.all([registry.sessionCount(), registry.live()]);
      return Math.ceil(count / Math.max(1, live.length));
    },
  });
  refresh = (renewed) => ownership.refresh(renewed);

  return {
    ownership,
    registry,
    locator: { self: config.serverId, ownerOf: (session) => lookups.ownerOf(session) },
    claim: (session) => ownership.claim(session),
    sharedStatuses,

    relayEvents(hub) {
      if (config.databaseUrl === null) throw new Error('unreachable: checked above');
      const observer = options.observer;
      const relay = createEventRelay({
        serverId: config.serverId,
        url: config.databaseUrl,
        schema: config.databaseSchema,
        pool: lookupPool,
        hub,
        logger,
        ...(observer === undefined ? {} : { onRelayed: (eventId: string) => observer.relayed(eventId) }),
      });
      relays.push(relay);
      return relay;
    },

    async start(url, startSessions) {
      advertised = url;
      await registry.announce({ id: config.serverId, url }, config.leaseTtlMs);
      const now = Date.now();
      for (const name of startSessions) {
        assertSessionName(name);
        const stored = await storage.sessions.get(name);
        if (stored === null) {
          await storage.sessions.create({ name, engine: 'NOWEB', config: {}, running: true, me: null, presence: null, createdAt: now, updatedAt: now });
        } else if (!stored.running) {
          await storage.sessions.update({ ...stored, running: true, updatedAt: now });
        }
      }
      logger.info({ server: config.serverId, url, capacity: config.maxSessions, leaseTtlMs: config.leaseTtlMs }, 'joined the cluster');
      ownership.start();
    },

    stopHeartbeat: () => ownership.stop(),

    async close() {
      try {
        await Promise.all(relays.map((relay) => relay.close()));
        // The engines have stopped: nothing needs the leases extended any more; then hand them back at once.
        await renewer.close();
        await ownership.release();
        await registry.withdraw(config.serverId);
      } finally {
        await Promise.all([heartbeatPool.end(), lookupPool.end()]);
      }
    },
  };
}
