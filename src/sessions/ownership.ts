import type { SessionInfo } from '../presence/sessions.js';
import type { SessionStatus } from '../presence/status.js';
import type { LeaseFence } from '../storage/leases.js';
import type { StoredSession } from '../storage/sessions.js';

/** A session's runtime as the cluster sees it: its status and, while a server runs it, that server. */
export type SharedStatus = Pick<SessionInfo, 'status' | 'worker' | 'reason'>;

/** What a server reports of a session it runs, for the others' lists. */
export interface StatusReport {
  readonly session: string;
  readonly status: SessionStatus;
  /** Whether an engine runs here. */
  readonly engine: boolean;
  readonly reason: string | null;
}

/**
 * Which server runs which session: the session layer's port. On one server this server owns
 * everything (`singleServerOwnership`); with several, src/cluster implements it over leases.
 */
export interface SessionOwnership {
  /** This server's id, reported as `worker` of the sessions it runs; null on one server (no `worker` field). */
  readonly serverId: string | null;
  /**
   * Called before an engine starts and before a session is marked running: the lease fence under
   * which this server runs the session (taken when free), null when there is nothing to fence (one
   * server). Throws an `AppError` (SESSION_OWNED_ELSEWHERE) when the session is not this server's to run.
   */
  claim(session: string): Promise<LeaseFence | null>;
  /** Whether `fence` (that of the session's last engine) is still this server's. */
  holds(session: string, fence: LeaseFence): Promise<boolean>;
  /** Shares a status under `fence` with the other servers; false when refused (the lease moved on). */
  report(report: StatusReport, fence: LeaseFence, at: number): Promise<boolean>;
  /**
   * The cluster's view of sessions that have no engine here, for the session list; absent on one
   * server, where the list answers from memory.
   */
  readonly sharedStatuses?: (sessions: readonly StoredSession[]) => Promise<ReadonlyMap<string, SharedStatus>>;
}

/** One server: it owns every session, fences nothing and shares nothing. */
export const singleServerOwnership: SessionOwnership = {
  serverId: null,
  claim: () => Promise.resolve(null),
  holds: () => Promise.resolve(true),
  report: () => Promise.resolve(true),
};
