import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { ClusterStores } from '../storage/cluster.js';
import type { Lease, Storage } from '../storage/index.js';
import type { ServerRegistry } from '../storage/servers.js';
import type { SessionOwnership } from '../sessions/ownership.js';
import type { SessionLocator } from '../http/forward.js';
import { assertSessionName } from '../sessions/validate.js';
import { DEFAULT_REBALANCE, createOwnership } from './ownership.js';
import type { LocalSessions, Ownership } from './ownership.js';
import { leastLoaded, loadsOf } from './placement.js';
import { createEventRelay } from './relay.js';
import type { EventRelay } from './relay.js';
import { createClusterSessionOwnership } from './session-ownership.js';
import { createSharedStatuses } from './statuses.js';
import type { Hub } from '../events/hub.js';

export type { LocalSessions, Ownership } from './ownership.js';

export interface ClusterOptions {
  readonly config: Pick<Config, 'serverId' | 'maxSessions' | 'leaseTtlMs' | 'heartbeatMs' | 'rebalance'>;
  readonly storage: Storage;
  /** What the cluster needs of the shared database besides `storage` (`openPostgresClusterStores`); closed by `close`. */
  readonly stores: ClusterStores;
  readonly logger: Logger;
  /** Tests shorten it; a third of the lease TTL by default. */
  readonly heartbeatMs?: number;
  /** How long the main thread may stall before its leases are left to run out; 3 × TTL by default (tests shorten it). */
  readonly stallBoundMs?: number;
  /** Metrics: told of each background lease renewal (how many leases it renewed) and each event relayed from another server. */
  readonly observer?: ClusterObserver;
  /** The server's clock (heartbeat timers, hand-back pacing); the lease store has the same one. */
  readonly clock?: Clock;
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
  /** Hand this to the session manager (`SessionManagerDeps.ownership`): leases, fenced status rows, the list as every owner would answer it. */
  readonly sessionOwnership: SessionOwnership;
  /**
   * Announces this server at `url`, marks `startSessions` as wanted running, and starts the
   * heartbeat, which starts and stops engines through `local` (the session manager, built after the
   * cluster because it claims through it).
   */
  start(url: string, startSessions: readonly string[], local: LocalSessions): Promise<void>;
  /** Ends the heartbeat: no session is taken or started from now on (first step of a shutdown). */
  stopHeartbeat(): Promise<void>;
  /** After the engines stopped: hands every lease back at once, withdraws the server, closes the connections. */
  close(): Promise<void>;
}

export function createCluster(options: ClusterOptions): Cluster {
  const { config, storage, stores } = options;
  const logger = options.logger.child({ area: 'cluster' });
  const clock = options.clock ?? systemClock;
  // The heartbeat has connections of its own (see `ClusterStores.heartbeat`).
  const registry = stores.heartbeat.servers;
  const lookups = stores.lookups.servers;
  const heartbeatMs = options.heartbeatMs ?? config.heartbeatMs;
  // The renewer is built first and tells the ownership loop of its own renewals once that exists.
  let refresh: ((renewed: readonly Lease[]) => void) | null = null;
  // Renewals run in a thread of their own (src/storage/postgres/lease-renewer.ts), so that a stall of this event loop
  // (Baileys' crypto, a burst of pairings) shorter than the bound does not lose every lease.
  const renewer = stores.startRenewer({
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
  const leases = { ...stores.heartbeat.leases, renew: (owner: string, ttlMs: number) => renewer.renew(owner, ttlMs) };
  // Reads for requests (the session list) go with the forwarding lookups, off the heartbeat's connections.
  const sharedStatuses = createSharedStatuses(stores.lookups);
  let advertised: string | null = null;
  const relays: EventRelay[] = [];
  // Whether the registry listed another live server at the last heartbeat; until the first, and
  // whenever the look fails, assume so (a needless NOTIFY costs less than a missed event).
  let othersLive = true;
  // Heartbeats (the only callers of `local`) run from `start` on, when the session manager is known.
  let local: LocalSessions | null = null;
  const started = (): LocalSessions => {
    if (local === null) throw new Error('the cluster is not started: no session manager to start sessions with');
    return local;
  };

  const ownership = createOwnership({
    serverId: config.serverId,
    leases,
    sessions: stores.heartbeat.sessions,
    local: {
      start: (session) => started().start(session),
      detach: (session) => started().detach(session),
      hasEngine: (session) => local !== null && local.hasEngine(session),
      movable: (session) => (local?.movable === undefined ? Promise.resolve(false) : local.movable(session)),
    },
    rebalance: config.rebalance ? DEFAULT_REBALANCE : null,
    capacity: config.maxSessions,
    ttlMs: config.leaseTtlMs,
    heartbeatMs,
    logger,
    clock,
    onHeartbeat: async () => {
      if (advertised !== null) await registry.announce({ id: config.serverId, url: advertised }, config.leaseTtlMs);
      try {
        const live = await registry.live();
        othersLive = live.some((server) => server.id !== config.serverId);
      } catch (error) {
        othersLive = true;
        throw error;
      }
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
    locator: {
      self: config.serverId,
      ownerOf: (session) => lookups.ownerOf(session),
      placeOf: async () => {
        const [servers, leases] = await Promise.all([lookups.live(), stores.lookups.leases.list()]);
        return leastLoaded(loadsOf(servers, leases, clock.now()), config.maxSessions, config.serverId);
      },
    },
    sessionOwnership: createClusterSessionOwnership({
      serverId: config.serverId,
      claim: (session) => ownership.claim(session),
      leases: storage.leases,
      statuses: storage.statuses,
      sharedStatuses,
    }),

    relayEvents(hub) {
      const observer = options.observer;
      const relay = createEventRelay({
        serverId: config.serverId,
        channel: stores.relayChannel(logger.child({ area: 'cluster-events' })),
        hub,
        logger,
        othersLive: () => othersLive,
        helloMs: config.leaseTtlMs,
        now: () => clock.now(),
        ...(observer === undefined ? {} : { onRelayed: (eventId: string) => observer.relayed(eventId) }),
      });
      relays.push(relay);
      return relay;
    },

    async start(url, startSessions, sessions) {
      local = sessions;
      advertised = url;
      await registry.announce({ id: config.serverId, url }, config.leaseTtlMs);
      const now = clock.now();
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
        await stores.close();
      }
    },
  };
}
