import type { Metrics } from './metrics.js';
import { eventTime } from './delivery.js';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';

/** Several servers: what the cluster tells the metrics, and whether its lease renewer is alive (readiness). */
export interface ClusterMetrics {
  /** `ClusterOptions.observer`. */
  readonly observer: { leasesRenewed(count: number): void; relayed(eventId: string): void };
  /** Count a session whose lease was lost (the ownership loop detaches it). */
  lost(): void;
  /** The renewer thread reported a renewal within `withinMs` (a lease TTL): it lives and reaches the database. */
  renewerAlive(withinMs: number): boolean;
}

export function clusterMetrics(metrics: Metrics | null, clock: Pick<Clock, 'now'> = systemClock): ClusterMetrics {
  const renewals = metrics?.leaseRenewals.cell({}) ?? { value: 0 };
  const losses = metrics?.leaseLosses.cell({}) ?? { value: 0 };
  // The renewer started with the cluster: give it one TTL to report before it counts as dead.
  let lastRenewal = clock.now();
  return {
    observer: {
      leasesRenewed(count) {
        lastRenewal = clock.now();
        renewals.value += count;
      },
      relayed(eventId) {
        const created = eventTime(eventId);
        if (metrics !== null && created !== null) metrics.relayLag.observe(Math.max(0, clock.now() - created) / 1000);
      },
    },
    lost() {
      losses.value += 1;
    },
    renewerAlive: (withinMs) => clock.now() - lastRenewal <= withinMs,
  };
}
