import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CounterFamily, HistogramFamily } from './cells.js';
import { counterFamily, histogramFamily } from './cells.js';

/**
 * Every metric wa-presence exposes, in one registry per server (never prom-client's global one, so
 * that tests build several servers in one process). Labels are bounded: statuses, kinds, outcomes,
 * store names and webhook hosts (never a URL's path or query, which may hold secrets, never a chat
 * id). A `session` label is added only with `sessionLabels` (WA_PRESENCE_METRICS_SESSION_LABELS):
 * one series per session and label set, which an operator with thousands of sessions may not want.
 *
 * The README's metrics table lists each of them (test/metrics/readme.test.ts keeps it in sync).
 */
export interface Metrics {
  readonly registry: Registry;
  readonly sessionLabels: boolean;
  readonly engineConnects: CounterFamily<SessionLabel>;
  readonly engineReconnects: CounterFamily<SessionLabel>;
  readonly engineCloses: CounterFamily<'reason' | SessionLabel>;
  readonly presenceReceived: CounterFamily<'kind' | 'chat' | SessionLabel>;
  readonly presenceSent: CounterFamily<'presence' | SessionLabel>;
  readonly subscribesSent: CounterFamily<'result' | SessionLabel>;
  readonly subscriptionsRenewed: CounterFamily<SessionLabel>;
  readonly renewalFailures: CounterFamily<SessionLabel>;
  readonly renewalDuration: Histogram;
  readonly eventsPublished: CounterFamily<'event' | SessionLabel>;
  readonly deliveries: CounterFamily<'outcome' | 'host'>;
  readonly deliveryLatency: Histogram<'host'>;
  readonly websocketDrops: CounterFamily<never>;
  readonly storageLatency: HistogramFamily<'store' | 'backend'>;
  readonly forwardedRequests: CounterFamily<never>;
  readonly leaseRenewals: CounterFamily<never>;
  readonly leaseLosses: CounterFamily<never>;
  readonly relayLag: Histogram;
  readonly gaugeFailures: CounterFamily<'gauge'>;
  /** Adds a gauge computed at scrape time (session list, outbox counts, hub size). */
  gauge<L extends string>(spec: GaugeSpec<L>): void;
}

export type SessionLabel = 'session';

export interface GaugeSpec<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  /** Called on every scrape; the rows replace the previous ones. */
  readonly read: () => Promise<readonly GaugeRow<L>[]>;
}

export interface GaugeRow<L extends string> {
  /** A label left out is exposed as absent (the session label when per-session labels are off). */
  readonly labels: Readonly<Partial<Record<L, string>>>;
  readonly value: number;
}

export interface MetricsOptions {
  readonly sessionLabels: boolean;
  /** prom-client's process metrics and event-loop lag; off in tests that count series. */
  readonly defaults?: boolean;
}

/** Seconds; from 1 ms (a webhook on the same machine) to a minute (a receiver that is down, retried). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Storage calls: 50 µs (an SQLite read) to 1 s (a PostgreSQL stall). */
const STORAGE_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.25, 1];
/** A renewal is paced by WA_PRESENCE_RENEWAL_RATE: a few subscriptions take a second, thousands minutes. */
const RENEWAL_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900];

const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  if (options.defaults !== false) {
    collectDefaultMetrics({ register: registry, prefix: 'wa_presence_' });
    // Gauges named like counters: `promtool check metrics` refuses them, and Prometheus' rate() on
    // them would mislead. The handle and resource counts are what a heap snapshot is for.
    for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(`wa_presence_${name}`);
  }
  const s = (names: readonly string[]): readonly string[] => (options.sessionLabels ? [...names, 'session'] : names);
  const family = <L extends string>(name: string, help: string, labelNames: readonly string[]): CounterFamily<L> =>
    counterFamily<L>(registry, { name, help, labelNames: labelNames as readonly L[] });
  const gaugeFailures = family<'gauge'>('wa_presence_scrape_read_failures_total', 'Scrapes in which a gauge could not be read (the database did not answer): that gauge had no series.', ['gauge']);
  return {
    registry,
    sessionLabels: options.sessionLabels,
    engineConnects: family('wa_presence_engine_connects_total', 'Engine connections that reached WORKING (first connects and reconnects).', s([])),
    engineReconnects: family('wa_presence_engine_reconnects_total', 'Engine connections that reached WORKING again after a close, without a restart of the session.', s([])),
    engineCloses: family('wa_presence_engine_closes_total', 'Engine connections that left WORKING, by reason.', s(['reason'])),
    presenceReceived: family('wa_presence_presence_updates_received_total', 'Presence updates an engine received, by kind (presence, chatstate) and chat (contact, group).', s(['kind', 'chat'])),
    presenceSent: family('wa_presence_presence_updates_sent_total', 'Presences an engine sent (online, offline, typing, recording, paused), renewals included.', s(['presence'])),
    subscribesSent: family('wa_presence_subscribes_sent_total', 'Presence subscriptions an engine sent to WhatsApp, by result (ok, error), renewals included.', s(['result'])),
    subscriptionsRenewed: family('wa_presence_subscriptions_renewed_total', 'Subscriptions renewed after a connection reached WORKING.', s([])),
    renewalFailures: family('wa_presence_subscription_renewal_failures_total', 'Subscriptions (and global presences) a renewal gave up on until the next reconnect, and renewals that failed as a whole.', s([])),
    renewalDuration: new Histogram({ name: 'wa_presence_renewal_duration_seconds', help: 'Time a renewal took, from WORKING to its last command (rate limited).', buckets: RENEWAL_BUCKETS, registers: [registry] }),
    eventsPublished: family('wa_presence_events_published_total', 'Events accepted by the publisher (outbox and WebSocket), by event type.', s(['event'])),
    deliveries: family('wa_presence_webhook_deliveries_total', 'Webhook delivery attempts by outcome (delivered, retried, failed) and webhook host; dropped (outbox over its cap) has no host.', ['outcome', 'host']),
    deliveryLatency: new Histogram({ name: 'wa_presence_webhook_delivery_seconds', help: 'From the event being accepted to its webhook answering 2xx, retries included.', labelNames: ['host'], buckets: LATENCY_BUCKETS, registers: [registry] }),
    websocketDrops: family('wa_presence_websocket_drops_total', 'WebSocket clients closed because they read too slowly (1013).', []),
    storageLatency: histogramFamily(registry, { name: 'wa_presence_storage_operation_seconds', help: 'Storage calls, by store and backend.', labelNames: ['store', 'backend'], buckets: STORAGE_BUCKETS }),
    forwardedRequests: family('wa_presence_forwarded_requests_total', 'Several servers: requests forwarded to the server that runs their session.', []),
    leaseRenewals: family('wa_presence_lease_renewals_total', 'Several servers: leases renewed by this server (one per session and heartbeat).', []),
    leaseLosses: family('wa_presence_lease_losses_total', 'Several servers: sessions whose lease this server lost (their engines were stopped).', []),
    relayLag: new Histogram({ name: 'wa_presence_relay_lag_seconds', help: "Several servers: from an event's creation on another server to its hand-over to this server's WebSocket clients.", buckets: LATENCY_BUCKETS, registers: [registry] }),
    gaugeFailures,
    gauge<L extends string>(spec: GaugeSpec<L>) {
      const failures = gaugeFailures.cell({ gauge: spec.name });
      const gauge: Gauge<L> = new Gauge<L>({
        name: spec.name,
        help: spec.help,
        labelNames: spec.labelNames,
        registers: [registry],
        async collect() {
          // A database that does not answer must not fail the whole scrape (process metrics, counters):
          // this gauge has no series then, and the failure is counted.
          let rows: readonly GaugeRow<L>[];
          try {
            rows = await spec.read();
          } catch {
            failures.value += 1;
            rows = [];
          }
          gauge.reset();
          for (const row of rows) gauge.set(row.labels, row.value);
        },
      });
    },
  };
}

/** Label sets with the session added when per-session labels are on. */
export function withSession<L extends string>(metrics: Metrics, session: string, labels: Readonly<Record<L, string>>): Readonly<Record<L | SessionLabel, string>> {
  return (metrics.sessionLabels ? { ...labels, session } : labels) as Readonly<Record<L | SessionLabel, string>>;
}
