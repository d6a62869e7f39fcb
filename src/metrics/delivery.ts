import type { AttemptOutcome, ClaimedDelivery } from '../storage/outbox.js';
import type { Cell } from './cells.js';
import type { Metrics } from './metrics.js';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** When an event was made, from its id (`evt_` + ULID: 10 base-32 characters of milliseconds); null if it is not one. */
export function eventTime(eventId: string): number | null {
  if (!eventId.startsWith('evt_') || eventId.length < 14) return null;
  let time = 0;
  for (let i = 4; i < 14; i += 1) {
    const digit = CROCKFORD.indexOf(eventId.charAt(i));
    if (digit < 0) return null;
    time = time * 32 + digit;
  }
  return time;
}

/** A webhook URL's host (and port): never its path or query, which may carry a secret token. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'invalid';
  }
}

interface HostCells {
  readonly delivered: Cell;
  readonly retried: Cell;
  readonly failed: Cell;
  readonly latency: { observe(seconds: number): void };
}

/** Distinct webhook URLs remembered (a few in practice; cleared when full). */
const URL_CACHE_SIZE = 256;

/**
 * The delivery worker's `onAttempt` (WorkerOptions): counts each attempt's outcome by webhook host,
 * and for a delivered one the time from the event's creation (its id) to the 2xx. A replayed
 * delivery counts from the original event, so its latency says how long the receiver waited in all.
 */
export function deliveryObserver(metrics: Metrics, clock: Pick<Clock, 'now'> = systemClock): (delivery: ClaimedDelivery, outcome: AttemptOutcome) => void {
  const byUrl = new Map<string, HostCells>();
  const cellsOf = (url: string): HostCells => {
    let cells = byUrl.get(url);
    if (cells === undefined) {
      const host = hostOf(url);
      cells = {
        delivered: metrics.deliveries.cell({ outcome: 'delivered', host }),
        retried: metrics.deliveries.cell({ outcome: 'retried', host }),
        failed: metrics.deliveries.cell({ outcome: 'failed', host }),
        latency: metrics.deliveryLatency.labels({ host }),
      };
      if (byUrl.size >= URL_CACHE_SIZE) byUrl.clear();
      byUrl.set(url, cells);
    }
    return cells;
  };
  return (delivery, outcome) => {
    const cells = cellsOf(delivery.url);
    switch (outcome.kind) {
      case 'delivered': {
        cells.delivered.value += 1;
        const created = eventTime(delivery.eventId);
        if (created !== null) cells.latency.observe(Math.max(0, clock.now() - created) / 1000);
        break;
      }
      case 'retry':
        cells.retried.value += 1;
        break;
      case 'failed':
        cells.failed.value += 1;
        break;
    }
  };
}
