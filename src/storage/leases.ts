/**
 * Session ownership when several servers share one database: each session is run by the server
 * that holds its lease. A lease has an owner (a server id), an expiry, and an epoch that grows by
 * one at every acquisition, so that a write carrying an older epoch can be recognised and refused
 * (see `LeaseFence`). Times are milliseconds since the epoch, from the storage's clock.
 *
 * Semantics every backend keeps (test/storage/conformance.ts):
 * - A lease is *live* while it has an owner and `now < expiresAt`. Only stored sessions get leases;
 *   deleting a session deletes its lease.
 * - `acquire` takes sessions without a live lease (never leased, released, or expired), running
 *   ones first then by name, until the owner holds `capacity` live leases; each taken lease gets
 *   the previous epoch + 1 (1 the first time). Two servers acquiring at once never take the same
 *   session.
 * - `renew` extends only the owner's live leases: a lease that expired is lost even when nobody
 *   took it yet (the owner may have been paused; it must stop and acquire again, with a new epoch).
 * - `release` hands leases back at once (SIGTERM) instead of letting them expire; the epoch is kept,
 *   the next acquisition increments it.
 *
 * Non-goals: deciding the capacity or the heartbeat period (the cluster module does), clocks across
 * machines (servers' clocks are assumed to agree within a small fraction of the lease time; NTP).
 */
export interface Lease {
  readonly session: string;
  readonly owner: string;
  readonly epoch: number;
  readonly expiresAt: number;
}

export interface AcquireOptions {
  /** Most live leases the owner holds afterwards, counting those it already holds. */
  readonly capacity: number;
  /** Lease length from now. */
  readonly ttlMs: number;
  /** Consider only these sessions (e.g. one just created); every stored session when absent. */
  readonly sessions?: readonly string[];
}

export interface LeaseStore {
  /** Takes free sessions up to the capacity; returns the leases taken now (not those held before), by session name. */
  acquire(owner: string, options: AcquireOptions): Promise<Lease[]>;
  /** Extends the owner's live leases to now + ttlMs; returns them by session name. A held lease missing here is lost. */
  renew(owner: string, ttlMs: number): Promise<Lease[]>;
  /** Releases the owner's leases (only these sessions, when given); returns the released session names, sorted. */
  release(owner: string, sessions?: readonly string[]): Promise<string[]>;
  /** The live lease of a session, or null when no server runs it. */
  get(session: string): Promise<Lease | null>;
  /** Every live lease, ordered by session name. */
  list(): Promise<Lease[]>;
}

/**
 * What an owner's write carries: the lease it believes it holds. A fenced write first checks, in
 * its own transaction, that the session's lease still has this owner and epoch, and otherwise
 * fails with `LeaseLostError` having written nothing. Only the owner and epoch are compared, not
 * the expiry: a lease that ran out but was not taken by anyone has no other writer to protect.
 */
export interface LeaseFence {
  readonly owner: string;
  readonly epoch: number;
}

export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(
    readonly session: string,
    readonly fence: LeaseFence,
    readonly current: { readonly owner: string | null; readonly epoch: number } | null,
  ) {
    super(
      current === null
        ? `session "${session}" has no lease; ${fence.owner} (epoch ${fence.epoch}) may not write its keys`
        : `session "${session}" is leased to ${current.owner ?? 'nobody'} at epoch ${current.epoch}; ` +
            `${fence.owner} (epoch ${fence.epoch}) may not write its keys`,
    );
  }
}

/** Rejects a capacity or lease time that would make no sense, naming the value. */
export function checkAcquireOptions(options: AcquireOptions): void {
  if (!Number.isSafeInteger(options.capacity) || options.capacity < 0) {
    throw new RangeError(`lease capacity must be a whole number >= 0, got ${options.capacity}`);
  }
  checkTtl(options.ttlMs);
}

export function checkTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new RangeError(`lease ttlMs must be a whole number > 0, got ${ttlMs}`);
}
