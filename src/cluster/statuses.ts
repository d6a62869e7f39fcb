import type { SharedStatus } from '../sessions/ownership.js';
import type { Lease, LeaseStore } from '../storage/leases.js';
import type { StoredSession } from '../storage/sessions.js';
import type { RuntimeStatus, RuntimeStatusStore } from '../storage/statuses.js';

/**
 * A session's runtime as any server should report it, from what is shared: the owner's last
 * status row and the live lease. The row is believed only while its writer still holds the lease
 * it wrote under (same owner, same epoch): then it is what `GET /api/sessions/{session}` on that
 * server answers. Otherwise the row is old news (its server died, stopped, or lost the session)
 * and the answer is what a user can act on: STARTING when the session should run (with the server
 * that holds the lease now and is starting it, or none until a server takes it), STOPPED when not.
 */
export function sharedStatus(session: Pick<StoredSession, 'running'>, row: RuntimeStatus | undefined, lease: Lease | undefined): SharedStatus {
  if (row !== undefined && lease !== undefined && row.server === lease.owner && row.epoch === lease.epoch) {
    const said = row.reason === null ? { status: row.status } : { status: row.status, reason: row.reason };
    return row.engine ? { ...said, worker: row.server } : said;
  }
  if (!session.running) return { status: 'STOPPED' };
  return lease === undefined ? { status: 'STARTING' } : { status: 'STARTING', worker: lease.owner };
}

/** `SessionManagerDeps.sharedStatuses` over a status store and a lease store (two reads, whatever the number of sessions). */
export function createSharedStatuses(stores: {
  readonly statuses: Pick<RuntimeStatusStore, 'list'>;
  readonly leases: Pick<LeaseStore, 'list'>;
}): (sessions: readonly StoredSession[]) => Promise<Map<string, SharedStatus>> {
  return async (sessions) => {
    const result = new Map<string, SharedStatus>();
    if (sessions.length === 0) return result;
    const [rows, leases] = await Promise.all([stores.statuses.list(), stores.leases.list()]);
    const rowOf = new Map(rows.map((row) => [row.session, row]));
    const leaseOf = new Map(leases.map((lease) => [lease.session, lease]));
    for (const session of sessions) result.set(session.name, sharedStatus(session, rowOf.get(session.name), leaseOf.get(session.name)));
    return result;
  };
}
