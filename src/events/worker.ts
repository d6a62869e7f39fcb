import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { AttemptOutcome, ClaimedDelivery, HandOffClaim, OutboxStore } from '../storage/outbox.js';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { createAttempt, deliveryLog, logOutcome } from './attempt.js';
import { createMaintenance } from './maintenance.js';
import type { RetryBounds } from './retry.js';
import { DEFAULT_RETRY_BOUNDS } from './retry.js';

/**
 * Sends what the outbox holds. One loop claims due deliveries (never more than it has free slots
 * for), sends each with bounded concurrency, records the outcome, and sleeps until the next one is
 * due, a publish wakes it, or `pollMs` passes (other servers on PostgreSQL enqueue without waking
 * us). It keeps nothing but the deliveries in flight in memory: a backlog of any size stays in
 * storage and is paged through, oldest due first.
 *
 * With an outbox that hands off, the common case needs no claim pass: an accept claims the
 * deliveries the worker has free slots for (`reserve`, `adopt`; `enqueueAndClaim`), and a final
 * outcome claims its chat's next delivery onto the same slot (`completeAndClaim`). Both
 * backends have both (an outcome alone can make the chat's next delivery due: hand-off at accept
 * without it saved nothing on PostgreSQL).
 * Only while storage may hold due deliveries nobody claimed (a saturated webhook, a retry come
 * due, a restart) does it fall back to passes, which take those oldest first; hand-off resumes
 * once a pass finds fewer than it had room for.
 */
export interface DeliveryWorker {
  /** Releases claims a previous run of this server left behind, then starts the loop. */
  start(): Promise<void>;
  /** Stops claiming and waits for the deliveries in flight to finish. Idempotent. */
  stop(): Promise<void>;
  /**
   * Something was enqueued (or replayed, or made due) that nobody claimed: look for due deliveries
   * now. `webhookKeys`: only theirs; when none of them has a free slot, the next answer's freed
   * slot looks instead (a pass now would find nothing to claim, after reading every due delivery).
   */
  wake(webhookKeys?: readonly string[]): void;
  /**
   * Hand-off (with an outbox that has `enqueueAndClaim`): slots for an event's deliveries about to
   * be accepted, one per webhook key given (same order), or null when the worker takes none: it is
   * stopped, or storage may hold due deliveries nobody claimed (those go first: a pass claims them
   * oldest first, and new events must not overtake them for the free slots). Every reservation
   * must be followed by `adopt`, whether the accept succeeded or not.
   */
  reserve(webhookKeys: readonly string[]): HandOffClaim | null;
  /**
   * What the accept of a reservation claimed (null when it failed): sends those, frees the slots of
   * the rest, and looks at the outbox when it left due deliveries unclaimed.
   */
  adopt(handOff: HandOffClaim, webhookKeys: readonly string[], claimed: readonly (ClaimedDelivery | null)[] | null): void;
  stats(): WorkerStats;
}

export interface WorkerStats {
  readonly inFlight: number;
  readonly delivered: number;
  readonly retried: number;
  readonly failed: number;
  /** Deliveries this worker dropped because the outbox was over `maxPending`. */
  readonly dropped: number;
}

export interface WorkerOptions {
  readonly outbox: OutboxStore;
  /** This server's id (`config.serverId`): claims are taken in its name. */
  readonly owner: string;
  readonly logger: Logger;
  /** Deliveries in flight at once, over all webhooks. */
  readonly concurrency?: number;
  /** Deliveries in flight at once to one webhook URL, so one slow receiver cannot take every slot. */
  readonly perWebhookConcurrency?: number;
  /** One request's timeout. */
  readonly timeoutMs?: number;
  /** How long a claim is exclusive; must exceed `timeoutMs` (a server that dies loses its claims after it). */
  readonly leaseMs?: number;
  /** Longest sleep between looks at the outbox. */
  readonly pollMs?: number;
  /** `config.outboxMaxPending`: checked every `capCheckMs`, past it the oldest pending are dropped. */
  readonly maxPending?: number;
  readonly capCheckMs?: number;
  /** Finished deliveries are kept this long for the operator view, then pruned (checked every `pruneEveryMs`). */
  readonly retentionMs?: number;
  readonly pruneEveryMs?: number;
  readonly retryBounds?: RetryBounds;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly dispatcher?: Dispatcher;
  /** Called after every attempt's outcome is recorded (metrics, tests, benchmarks). */
  readonly onAttempt?: (delivery: ClaimedDelivery, outcome: AttemptOutcome) => void;
}

export const WORKER_DEFAULTS = {
  concurrency: 64,
  perWebhookConcurrency: 32,
  timeoutMs: 10_000,
  pollMs: 1000,
  capCheckMs: 1000,
  retentionMs: 24 * 60 * 60_000,
  pruneEveryMs: 60_000,
} as const;

export function createDeliveryWorker(options: WorkerOptions): DeliveryWorker {
  const concurrency = options.concurrency ?? WORKER_DEFAULTS.concurrency;
  const perWebhook = options.perWebhookConcurrency ?? WORKER_DEFAULTS.perWebhookConcurrency;
  const timeoutMs = options.timeoutMs ?? WORKER_DEFAULTS.timeoutMs;
  const leaseMs = options.leaseMs ?? timeoutMs + 30_000;
  const pollMs = options.pollMs ?? WORKER_DEFAULTS.pollMs;
  const clock = options.clock ?? systemClock;
  const attempt = createAttempt({
    timeoutMs,
    retryBounds: options.retryBounds ?? DEFAULT_RETRY_BOUNDS,
    clock,
    random: options.random ?? Math.random,
    ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
  });
  const { outbox, owner, logger } = options;
  const maintenance = createMaintenance({
    outbox,
    logger,
    maxPending: options.maxPending,
    capCheckMs: options.capCheckMs ?? WORKER_DEFAULTS.capCheckMs,
    retentionMs: options.retentionMs ?? WORKER_DEFAULTS.retentionMs,
    pruneEveryMs: options.pruneEveryMs ?? WORKER_DEFAULTS.pruneEveryMs,
    running: () => running,
  });

  const inFlight = new Set<Promise<void>>();
  const perKey = new Map<string, number>();
  const counters: Record<AttemptOutcome['kind'], number> = { delivered: 0, retry: 0, failed: 0 };
  let running = false;
  // Hand-off bookkeeping. `backlog`: storage may hold due deliveries nobody claimed (at start, after
  // a wake, while a webhook is saturated), so reservations and successor claims wait for a pass to
  // take them oldest first; a pass that found fewer than it had room for clears it, unless a wake
  // came while it ran (\`wakes\` counts them). `reserved`: slots reserved and not yet adopted.
  const acceptsHandOff = outbox.enqueueAndClaim !== undefined;
  const completeAndClaim = outbox.completeAndClaim;
  let backlog = true;
  let wakes = 0;
  let reserved = 0;
  let loopDone: Promise<void> = Promise.resolve();
  let woken = false;
  let wakeSleeper: (() => void) | null = null;
  // What the next pass is for: the webhooks that got work or a free slot since the last one, or
  // every webhook (null: at start, after the poll timer, a wake without keys, a freed global slot).
  // A pass none of whose webhooks has a free slot would claim nothing after reading every due
  // delivery (the claim skips excluded webhooks by reading past them): it is skipped.
  let asked: Set<string> | null = null;

  function ask(webhookKeys: readonly string[] | undefined): void {
    if (webhookKeys === undefined) asked = null;
    else if (asked !== null) for (const key of webhookKeys) asked.add(key);
  }

  function wake(webhookKeys?: readonly string[]): void {
    backlog = true;
    wakes += 1;
    ask(webhookKeys);
    rouse();
  }

  /** A slot freed (its webhook's, or without a key the global bound's): a pass is worth it only while storage may hold due deliveries nobody claimed. */
  function slotFreed(webhookKey?: string): void {
    if (!backlog && acceptsHandOff) return;
    ask(webhookKey === undefined ? undefined : [webhookKey]);
    rouse();
  }

  function rouse(): void {
    woken = true;
    const sleeper = wakeSleeper;
    wakeSleeper = null;
    sleeper?.();
  }

  function sleep(ms: number): Promise<void> {
    if (woken) return Promise.resolve();
    return new Promise((resolve) => {
      const handle = clock.setTimeout(() => {
        wakeSleeper = null;
        asked = null;
        resolve();
      }, ms);
      wakeSleeper = () => {
        clock.clearTimeout(handle);
        // Not at once: every completion and publish of this turn of the event loop wakes us, and
        // one pass after them all claims for all of them (one query instead of one per wake).
        setImmediate(resolve);
      };
    });
  }

  /** The receiver has answered (or the attempt ended): its webhook's slot is free for the next one. */
  function freeSlot(webhookKey: string): void {
    const left = (perKey.get(webhookKey) ?? 1) - 1;
    if (left === 0) perKey.delete(webhookKey);
    else perKey.set(webhookKey, left);
    slotFreed(webhookKey);
  }

  /**
   * Records the outcome. A final one may make the order key's next delivery due: with hand-off and
   * no backlog it is claimed in the same transaction and sent on this webhook slot, which is held
   * until then; otherwise the slot is freed at once and a pass looks for it.
   */
  async function record(delivery: ClaimedDelivery, outcome: AttemptOutcome): Promise<boolean> {
    if (completeAndClaim === undefined || !running || backlog || outcome.kind === 'retry') {
      // The per-webhook bound protects the receiver, which is done with this request: its next one
      // need not wait for this outcome's commit (a database round trip or more). The global bound
      // still counts the delivery until the outcome is recorded.
      freeSlot(delivery.webhookKey);
      const recorded = await outbox.complete(delivery.id, owner, outcome, clock.now());
      // A final outcome may have made the chat's next delivery due, unclaimed (it is this webhook's).
      if (outcome.kind !== 'retry') wake([delivery.webhookKey]);
      return recorded;
    }
    let result;
    try {
      result = await completeAndClaim(delivery.id, owner, outcome, clock.now(), leaseMs);
    } catch (error) {
      freeSlot(delivery.webhookKey);
      throw error;
    }
    if (result.successor === null || !running) {
      freeSlot(delivery.webhookKey);
      if (result.successor !== null) await outbox.release([result.successor.id], owner);
    } else {
      dispatch(result.successor, true);
    }
    return result.recorded;
  }

  async function send(delivery: ClaimedDelivery): Promise<void> {
    const log = deliveryLog(logger, delivery);
    const outcome = await attempt(delivery);
    try {
      const recorded = await record(delivery, outcome);
      if (!recorded) log().warn({ outcome: outcome.kind }, 'delivery claim was lost (lease ran out) before its outcome was recorded');
    } catch (error) {
      // The claim's lease runs out and the delivery is sent again: at least once, never lost.
      log().error({ err: error, outcome: outcome.kind }, 'could not record a delivery outcome; it will be retried after its lease');
    }
    counters[outcome.kind] += 1;
    logOutcome(logger, log, delivery, outcome);
    options.onAttempt?.(delivery, outcome);
  }

  /** `counted`: its webhook slot is taken already (a reservation, or the predecessor's slot). */
  function dispatch(delivery: ClaimedDelivery, counted = false): void {
    if (!counted) perKey.set(delivery.webhookKey, (perKey.get(delivery.webhookKey) ?? 0) + 1);
    const task = send(delivery).finally(() => {
      // The global bound held a pass back only when it was full; else its webhook's slot, freed
      // at the answer, already asked for one (a pass for nothing scans every due delivery).
      const wasFull = inFlight.size + reserved >= concurrency;
      inFlight.delete(task);
      if (wasFull) slotFreed();
    });
    inFlight.add(task);
  }

  function reserve(webhookKeys: readonly string[]): HandOffClaim | null {
    if (!acceptsHandOff || !running || backlog) return null;
    const take = webhookKeys.map((key) => {
      const used = perKey.get(key) ?? 0;
      if (inFlight.size + reserved >= concurrency || used >= perWebhook) return false;
      perKey.set(key, used + 1);
      reserved += 1;
      return true;
    });
    return { owner, leaseMs, take };
  }

  function adopt(handOff: HandOffClaim, webhookKeys: readonly string[], claimed: readonly (ClaimedDelivery | null)[] | null): void {
    const unclaimed: number[] = [];
    const left: string[] = [];
    handOff.take.forEach((taken, index) => {
      const delivery = claimed?.[index] ?? null;
      if (!taken) {
        // Enqueued without a slot: possibly due, and nobody claimed it.
        if (claimed !== null) left.push(webhookKeys[index] ?? '');
        return;
      }
      reserved -= 1;
      if (delivery !== null && running) dispatch(delivery, true);
      else {
        // Behind its order key (its predecessor's outcome makes it due), the accept failed, or stopping.
        if (delivery !== null) unclaimed.push(delivery.id);
        freeSlot(webhookKeys[index] ?? '');
      }
    });
    if (unclaimed.length > 0) {
      outbox.release(unclaimed, owner).catch((error: unknown) => logger.error({ err: error }, 'could not release handed-off deliveries while stopping; their lease runs out'));
    }
    if (left.length > 0) wake(left);
  }

  /** One pass: claim what there are slots for; returns how long to sleep (0: look again at once). */
  async function pass(): Promise<number> {
    woken = false;
    const wakesBefore = wakes;
    const lookingAt = asked;
    asked = new Set();
    const now = clock.now();
    await maintenance.run(now);
    const free = concurrency - inFlight.size - reserved;
    if (free <= 0) {
      // Whether something came due meanwhile (a retry) is unknown: reservations wait for a pass.
      backlog = true;
      return pollMs;
    }
    // Each of those webhooks' next freed slot asks again.
    if (lookingAt !== null && [...lookingAt].every((key) => (perKey.get(key) ?? 0) >= perWebhook)) return pollMs;
    const saturated = [...perKey].filter(([, count]) => count >= perWebhook).map(([key]) => key);
    const claimed = await outbox.claim({
      owner,
      now,
      leaseMs,
      limit: free,
      excludeWebhookKeys: saturated,
      slots: { perWebhook, inFlight: Object.fromEntries(perKey) },
    });
    const over: number[] = [];
    for (const delivery of claimed) {
      // Reservations made while the claim ran took slots too.
      const full = inFlight.size + reserved >= concurrency || (perKey.get(delivery.webhookKey) ?? 0) >= perWebhook;
      if (!running || full) over.push(delivery.id);
      else dispatch(delivery);
    }
    if (over.length > 0) await outbox.release(over, owner);
    // Fewer than there was room for means storage has no more due, unless a webhook's slots were
    // what limited the claim (it was excluded, or is full now): then more of its deliveries may be due.
    const drained =
      claimed.length < free && over.length === 0 && saturated.length === 0 && claimed.every((d) => (perKey.get(d.webhookKey) ?? 0) < perWebhook);
    backlog = !drained || wakes !== wakesBefore;
    // A full batch: more may be due right now, of any webhook.
    if (claimed.length === free && over.length === 0) {
      asked = null;
      return 0;
    }
    // What was claimed wakes the loop when it finishes, and the pass after that looks again; the
    // next due time would cost a query per pass, and passes are what bounds throughput on
    // PostgreSQL (each waits for a round trip). A later retry is at most `pollMs` late.
    if (claimed.length > 0) return pollMs;
    const next = await outbox.nextDueAt();
    // Due but not claimed means its webhook has no free slot: a finishing delivery wakes us.
    if (next === null || next <= now) return pollMs;
    return Math.min(next - now, pollMs);
  }

  async function loop(): Promise<void> {
    while (running) {
      let delay: number;
      try {
        delay = await pass();
      } catch (error) {
        logger.error({ err: error }, 'webhook worker pass failed; trying again');
        delay = pollMs;
      }
      if (running && delay > 0) await sleep(delay);
    }
  }

  return {
    async start() {
      if (running) return;
      const released = await outbox.recoverClaims(owner);
      if (released > 0) logger.info({ released }, 'released webhook deliveries claimed before a restart');
      running = true;
      loopDone = loop();
    },
    async stop() {
      if (!running) return loopDone;
      running = false;
      wake();
      await loopDone;
      await Promise.allSettled([...inFlight]);
    },
    wake,
    reserve,
    adopt,
    stats() {
      return { inFlight: inFlight.size, delivered: counters.delivered, retried: counters.retry, failed: counters.failed, dropped: maintenance.dropped() };
    },
  };
}
