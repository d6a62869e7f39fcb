import type { SessionOwnership, SharedStatus } from '../sessions/ownership.js';
import type { LeaseFence, LeaseStore } from '../storage/leases.js';
import type { StoredSession } from '../storage/sessions.js';
import type { RuntimeStatusStore } from '../storage/statuses.js';

export interface ClusterSessionOwnershipOptions {
  /** This server's id (`config.serverId`), reported as `worker` of the sessions it runs. */
  readonly serverId: string;
  /** The lease fence under which this server may run the session (`Ownership.claim`). */
  readonly claim: (session: string) => Promise<LeaseFence>;
  /** Whether a session's lease is still the one its engine ran under. */
  readonly leases: Pick<LeaseStore, 'get'>;
  /** Where this server shares the statuses of the sessions it runs (writes fenced by the lease). */
  readonly statuses: Pick<RuntimeStatusStore, 'put'>;
  /** The other servers' view, for the session list (`createSharedStatuses`). */
  readonly sharedStatuses?: (sessions: readonly StoredSession[]) => Promise<ReadonlyMap<string, SharedStatus>>;
}

/** The session layer's `SessionOwnership` for one server among several: leases, fenced status rows. */
export function createClusterSessionOwnership(options: ClusterSessionOwnershipOptions): SessionOwnership {
  return {
    serverId: options.serverId,
    claim: (session) => options.claim(session),
    async holds(session, fence) {
      const lease = await options.leases.get(session);
      return lease !== null && lease.owner === fence.owner && lease.epoch === fence.epoch;
    },
    report: (report, fence, at) => options.statuses.put({ ...report, server: fence.owner, at, epoch: fence.epoch }),
    ...(options.sharedStatuses === undefined ? {} : { sharedStatuses: options.sharedStatuses }),
  };
}
