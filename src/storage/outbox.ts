/**
 * The durable webhook outbox: every accepted event and one delivery per webhook that wants it.
 *
 * Semantics every backend keeps (one conformance suite runs against each, test/storage/outbox-conformance.ts):
 * - **Accept is durable.** `enqueue` writes the event's exact body and all its deliveries in one
 *   transaction; a crash after it resolves loses nothing, a crash before it leaves nothing.
 * - **Group commit.** Concurrent `enqueue` (and `complete`) calls may share one transaction; each
 *   still resolves with its own result, only once that transaction committed, and acts as if the
 *   calls had been made one after the other in call order (a later duplicate event id gets `false`).
 * - **Order per order key.** Deliveries with the same `orderKey` (a webhook and a chat) are due one
 *   at a time, oldest (lowest id) first: only the oldest *pending* delivery of a key is ever due.
 *   Its successor becomes due when it is delivered, fails for good, or is dropped. Deliveries of
 *   other keys are never held back by it.
 * - **Claims with a lease.** `claim` hands a due delivery to one owner until `now + leaseMs`; no
 *   other owner can claim it before the lease runs out, so two servers never send it at once
 *   (PostgreSQL: `FOR UPDATE SKIP LOCKED`). A lease that runs out (its server died) makes the
 *   delivery claimable again, so it is sent at least once, possibly twice: receivers de-duplicate
 *   on the event id.
 * - **Bounded.** The outbox never holds more than a cap of pending deliveries once `enforceCap` ran:
 *   the oldest unclaimed pending ones past the cap are marked `dropped` (kept, listed, replayable).
 *   Nothing here is held in memory: readers page through storage.
 *
 * Times are milliseconds since the epoch, always passed in (the caller's clock). Non-goals: the
 * retry policy (the worker decides `nextAttemptAt`), HTTP, and de-duplicating deliveries on the
 * receiver's side.
 */
export interface OutboxStore {
  /**
   * Writes the event and its deliveries (possibly none) in one transaction. Idempotent on
   * `event.id`: when the event exists already nothing is written and the result is `false`.
   */
  enqueue(event: OutboxEvent, deliveries: readonly NewDelivery[], now: number): Promise<boolean>;

  /**
   * Hand-off (optional; SQLite has it): `enqueue`, and in the same transaction a claim for
   * `handOff.owner` of each delivery `handOff.take` marks that is due at once (not behind an older
   * pending one of its order key), so a caller with free slots sends it without a claim pass.
   * `claimed` has one entry per delivery, null where nothing was claimed (not taken, behind its
   * order key, or the event was a duplicate: `accepted` false). Same durability and order as
   * `enqueue`; a claim made here is a claim like `claim`'s (its lease, `complete`, `release`).
   */
  readonly enqueueAndClaim?: (event: OutboxEvent, deliveries: readonly NewDelivery[], now: number, handOff: HandOffClaim) => Promise<EnqueueClaimed>;

  /**
   * Hand-off (optional, with `enqueueAndClaim`): `complete`, and when the outcome is final and
   * let a successor of the order key become due, that successor claimed for `owner` until
   * `now + leaseMs` in the same transaction (so the chat's next event is sent without a claim pass).
   */
  readonly completeAndClaim?: (id: number, owner: string, outcome: AttemptOutcome, now: number, leaseMs: number) => Promise<CompleteClaimed>;

  /**
   * Claims up to `limit` due deliveries for `owner`, oldest `nextAttemptAt` first: pending, the
   * oldest pending of their order key, `nextAttemptAt <= now`, not claimed by a live lease, and not
   * to one of `excludeWebhookKeys` (webhooks the caller has no free slot for). With `slots`, of
   * those first `limit` due deliveries only as many per webhook as it has free slots are claimed;
   * the others are left alone, not claimed.
   */
  claim(request: ClaimRequest): Promise<ClaimedDelivery[]>;

  /**
   * Records the outcome of one attempt (attempts + 1) and ends the claim. `false` when the claim
   * is no longer `owner`'s (its lease ran out and another server took it, or it was dropped):
   * nothing changes then.
   */
  complete(id: number, owner: string, outcome: AttemptOutcome, now: number): Promise<boolean>;

  /** Ends `owner`'s claims on these deliveries without counting an attempt (shutdown, no free slot). */
  release(ids: readonly number[], owner: string): Promise<void>;

  /**
   * Ends claims that cannot be in flight any more, at startup: every claim of `owner` (this server
   * before a restart, when its id is stable) and, on a backend that only one server uses at a time
   * (SQLite), every claim. Returns how many were released.
   */
  recoverClaims(owner: string): Promise<number>;

  /** The earliest `nextAttemptAt` among deliveries that are or will become claimable, or null when none. */
  nextDueAt(): Promise<number | null>;

  /** Pending deliveries (claimed or not). */
  countPending(): Promise<number>;

  /**
   * Pending deliveries (claimed or not) per webhook: how many, and when the oldest was accepted.
   * One row per webhook key with any pending; for the metrics' scrape, so it reads the pending
   * deliveries (its cost grows with the backlog, as `countPending`'s does).
   */
  pendingByWebhook(): Promise<PendingByWebhook[]>;

  /**
   * Marks the oldest unclaimed pending deliveries past `maxPending` as `dropped` (with `lastError`
   * saying why), and returns how many it dropped.
   */
  enforceCap(maxPending: number, now: number): Promise<number>;

  /** One session's deliveries, newest first, by status; `before` pages (ids lower than it). */
  list(session: string, query: ListQuery): Promise<DeliveryRecord[]>;

  /**
   * Sends a finished (delivered, failed or dropped) delivery again: a new pending delivery of the
   * same event to the same webhook, queued after the pending ones of its order key. A cancelled
   * one (its session was deleted) is not sent again: `cancelled`.
   */
  replay(session: string, id: number, now: number): Promise<ReplayResult>;

  /**
   * Ends the deliveries of a session being deleted, so that none is sent or replayed afterwards
   * (not to the old URL, and not under a later session of the same name): its pending ones,
   * claimed or not, and its failed and dropped ones (which could be replayed) become `cancelled`,
   * `lastError` saying why (and, for a finished one, what it was). Delivered ones stay delivered.
   * A claim in flight loses its delivery: its `complete` then returns `false`. Returns how many it
   * cancelled; cancelled deliveries are finished and pruned like the others.
   */
  cancelSession(session: string, now: number): Promise<number>;

  /**
   * Deletes at most `limit` finished deliveries last updated before `before`, and the events they
   * leave with no delivery. Returns how many deliveries it deleted: the caller calls again while
   * that equals `limit`, so no single call holds the database for long.
   */
  prune(before: number, limit: number): Promise<number>;
}

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed', 'dropped', 'cancelled'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface OutboxEvent {
  /** The envelope's `id`. */
  readonly id: string;
  readonly session: string;
  readonly event: string;
  /** The exact JSON sent to every webhook (and signed). */
  readonly body: string;
}

export interface NewDelivery {
  readonly url: string;
  /** Deliveries to one webhook share slots; see `ClaimRequest.excludeWebhookKeys`. */
  readonly webhookKey: string;
  readonly orderKey: string;
  /** Opaque to storage: how to send (the events module's serialised webhook target). */
  readonly target: string;
}

export interface ClaimRequest {
  readonly owner: string;
  readonly now: number;
  readonly leaseMs: number;
  readonly limit: number;
  readonly excludeWebhookKeys: readonly string[];
  /**
   * The caller's slots per webhook: at most `perWebhook - (inFlight[webhookKey] ?? 0)` deliveries of
   * each webhook are claimed. Without it a caller that can send only a few more to a webhook would
   * claim (and write) a whole batch of its deliveries, then have to release most of them.
   */
  readonly slots?: { readonly perWebhook: number; readonly inFlight: Readonly<Record<string, number>> };
}

export interface HandOffClaim {
  readonly owner: string;
  readonly leaseMs: number;
  /** Per delivery (same index): whether the caller has a slot for it. */
  readonly take: readonly boolean[];
}

export interface EnqueueClaimed {
  /** `enqueue`'s result. */
  readonly accepted: boolean;
  /** Per delivery (same index): claimed for the caller, or null. */
  readonly claimed: readonly (ClaimedDelivery | null)[];
}

export interface CompleteClaimed {
  /** `complete`'s result. */
  readonly recorded: boolean;
  /** The order key's next delivery, claimed for the caller, or null (none, not final, not recorded). */
  readonly successor: ClaimedDelivery | null;
}

export interface ClaimedDelivery {
  readonly id: number;
  readonly eventId: string;
  readonly session: string;
  readonly event: string;
  readonly url: string;
  readonly webhookKey: string;
  readonly orderKey: string;
  readonly target: string;
  /** Attempts made before this one. */
  readonly attempts: number;
  readonly body: string;
}

/** A claimed delivery as both backends' SQL returns it (PostgreSQL's bigint id comes as text). */
export interface ClaimedRow {
  readonly id: number | string;
  readonly event_id: string;
  readonly session: string;
  readonly event: string;
  readonly url: string;
  readonly webhook_key: string;
  readonly order_key: string;
  readonly target: string;
  readonly attempts: number;
  readonly body: string;
}

export function claimedFromRow(row: ClaimedRow): ClaimedDelivery {
  return {
    id: Number(row.id),
    eventId: row.event_id,
    session: row.session,
    event: row.event,
    url: row.url,
    webhookKey: row.webhook_key,
    orderKey: row.order_key,
    target: row.target,
    attempts: row.attempts,
    body: row.body,
  };
}

export type AttemptOutcome =
  | { readonly kind: 'delivered'; readonly status: number }
  | { readonly kind: 'retry'; readonly nextAttemptAt: number; readonly error: string; readonly status: number | null }
  | { readonly kind: 'failed'; readonly error: string; readonly status: number | null };

export interface PendingByWebhook {
  readonly webhookKey: string;
  /** One of the webhook's URLs (all its deliveries share it). */
  readonly url: string;
  readonly pending: number;
  /** `createdAt` of its oldest pending delivery (ms since the epoch). */
  readonly oldestCreatedAt: number;
}

export interface ListQuery {
  readonly status: DeliveryStatus | null;
  readonly limit: number;
  readonly before: number | null;
}

export interface DeliveryRecord {
  readonly id: number;
  readonly eventId: string;
  readonly event: string;
  readonly url: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly lastError: string | null;
  /** HTTP status of the last answer, null when there was none (network error, timeout, not tried). */
  readonly lastStatus: number | null;
  /** When it is due next: null for a finished delivery, or a pending one waiting behind an older one. */
  readonly nextAttemptAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly deliveredAt: number | null;
}

export type ReplayResult =
  | { readonly kind: 'replayed'; readonly id: number }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'pending' }
  | { readonly kind: 'cancelled' };

/** `lastError` of a delivery `cancelSession` ended; a finished one keeps what it was after it. */
export const CANCELLED_ERROR = 'cancelled: its session was deleted';
