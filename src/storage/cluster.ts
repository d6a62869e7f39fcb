import type { Logger } from 'pino';
import type { Lease, LeaseStore } from './leases.js';
import type { RelayChannel } from './relay.js';
import type { ServerRegistry } from './servers.js';
import type { SessionStore } from './sessions.js';
import type { RuntimeStatusStore } from './statuses.js';

/**
 * Lease renewal off the main thread. The heartbeat shares the main event loop with the engines
 * (Baileys' crypto runs there): a stall longer than the lease TTL would lose every lease although
 * the server is fine. A worker thread, with a connection of its own, renews at a fixed rate
 * instead, as long as the main thread pings it within `boundMs`: a main thread that is truly
 * hung still loses its sessions, only later (bound + TTL). Only expiries are extended; epochs and
 * so the fencing of credential writes are untouched.
 */
export interface LeaseRenewer {
  /** Renews now, in the thread, and returns the owner's live leases (`LeaseStore.renew`). */
  renew(owner: string, ttlMs: number): Promise<Lease[]>;
  /** Ends the thread after its renewal in progress; from now on leases run out unless released. */
  close(): Promise<void>;
}

export interface LeaseRenewerOptions {
  readonly serverId: string;
  readonly ttlMs: number;
  /** The thread's renewal period and the main thread's ping period. */
  readonly periodMs: number;
  /** How long the main thread may stay silent before its leases are left to run out; 3 × TTL by default. */
  readonly boundMs?: number;
  readonly logger: Logger;
  /** Leases the thread renewed on its own (not asked): the ownership loop refreshes their expiry. */
  readonly onRenewed?: (leases: readonly Lease[]) => void;
}

/**
 * Everything several servers need from their shared database (src/cluster), besides the
 * `Storage` every server has. PostgreSQL only: `openPostgresClusterStores`.
 */
export interface ClusterStores {
  /**
   * On connections of their own: a heartbeat must not queue behind the engines' key writes and
   * the outbox (the storage's pool) nor behind request lookups, or a busy server loses its sessions.
   */
  readonly heartbeat: {
    readonly leases: LeaseStore;
    readonly sessions: Pick<SessionStore, 'list'>;
    readonly servers: ServerRegistry;
  };
  /** For requests (forwarding, the session list), off the heartbeat's connections. */
  readonly lookups: {
    readonly servers: ServerRegistry;
    readonly statuses: Pick<RuntimeStatusStore, 'list'>;
    readonly leases: Pick<LeaseStore, 'list'>;
  };
  /** A new channel for the live event relay (closed by its user). */
  relayChannel(logger: Logger): RelayChannel;
  /** Starts the lease renewer thread. */
  startRenewer(options: LeaseRenewerOptions): LeaseRenewer;
  /** Closes the connections (after the renewer and the channels closed). */
  close(): Promise<void>;
}
