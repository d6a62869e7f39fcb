import type { Logger } from 'pino';
import type { OutboxStore } from '../storage/outbox.js';

/** Finished deliveries deleted per transaction when pruning. */
const PRUNE_BATCH = 2000;

export interface MaintenanceOptions {
  readonly outbox: OutboxStore;
  readonly logger: Logger;
  /** `config.outboxMaxPending`: checked every `capCheckMs`, past it the oldest pending are dropped. */
  readonly maxPending: number | undefined;
  readonly capCheckMs: number;
  /** Finished deliveries are kept this long, then pruned (checked every `pruneEveryMs`). */
  readonly retentionMs: number;
  readonly pruneEveryMs: number;
  /** Pruning stops between batches once this says the worker stopped. */
  readonly running: () => boolean;
}

export interface Maintenance {
  /** Runs what is due at `now` (the cap, pruning); the worker calls it at the start of every pass. */
  run(now: number): Promise<void>;
  /** Deliveries dropped over the cap so far. */
  dropped(): number;
}

/** The worker's housekeeping on the outbox: the pending cap and pruning, each on its own period. */
export function createMaintenance(options: MaintenanceOptions): Maintenance {
  const { outbox, logger, maxPending } = options;
  let nextCapCheck = 0;
  let nextPrune = 0;
  let droppedTotal = 0;
  return {
    async run(now) {
      if (maxPending !== undefined && now >= nextCapCheck) {
        nextCapCheck = now + options.capCheckMs;
        const dropped = await outbox.enforceCap(maxPending, now);
        if (dropped > 0) {
          droppedTotal += dropped;
          logger.warn({ dropped, droppedTotal, maxPending }, 'outbox over its cap: dropped the oldest pending deliveries');
        }
      }
      if (now >= nextPrune) {
        nextPrune = now + options.pruneEveryMs;
        let pruned = 0;
        for (;;) {
          const deleted = await outbox.prune(now - options.retentionMs, PRUNE_BATCH);
          pruned += deleted;
          if (deleted < PRUNE_BATCH || !options.running()) break;
          // Let deliveries and publishes in between the batches.
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (pruned > 0) logger.debug({ pruned }, 'pruned finished deliveries');
      }
    },
    dropped: () => droppedTotal,
  };
}
