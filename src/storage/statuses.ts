import type { SessionStatus } from '../presence/status.js';

/**
 * What the server running a session last said about it: the runtime status that only that server
 * knows (its engine's), shared so that any server can list every session as its owner sees it.
 */
export interface RuntimeStatus {
  readonly session: string;
  readonly status: SessionStatus;
  /** The server that wrote it: the lease owner at `epoch`. */
  readonly server: string;
  /** The lease epoch it was written under; with `server`, tells whether the writer still holds the lease. */
  readonly epoch: number;
  /** Whether that server had an engine for the session at that moment (it is the session's `worker`). */
  readonly engine: boolean;
  /** Milliseconds since the epoch, the writer's clock. */
  readonly at: number;
  /** Why the session reached this status when nobody asked for it (the session's `reason`), or null. */
  readonly reason: string | null;
}

/**
 * Runtime statuses of sessions, one row per session, written by their owners on every status
 * change (several servers only; one server answers from memory).
 *
 * Semantics every backend keeps (test/storage/conformance.ts):
 * - `put` is fenced like a credential write: it writes only while the session's lease has this
 *   `server` as owner at this `epoch` (expiry is not checked), and otherwise returns false having
 *   written nothing. A row is never replaced by one of an older epoch, so a late write of a
 *   server that lost the session cannot hide the new owner's status.
 * - A row says what its writer saw; whether to believe it is the reader's call (compare it with
 *   the live lease: src/cluster/statuses.ts). Deleting a session deletes its row.
 *
 * Non-goals: history (only the last status is kept), statuses on one server.
 */
export interface RuntimeStatusStore {
  put(status: RuntimeStatus): Promise<boolean>;
  /** Every row, by session name. */
  list(): Promise<RuntimeStatus[]>;
}

