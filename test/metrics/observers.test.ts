import { describe, expect, it } from 'vitest';
import { createHub } from '../../src/events/hub.js';
import type { HubClient } from '../../src/events/hub.js';
import { newEventId } from '../../src/events/envelope.js';
import { clusterMetrics } from '../../src/metrics/cluster.js';
import { deliveryObserver } from '../../src/metrics/delivery.js';
import { registerGauges } from '../../src/metrics/gauges.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import type { Metrics } from '../../src/metrics/metrics.js';
import { instrumentHub } from '../../src/metrics/publisher.js';
import type { ClaimedDelivery } from '../../src/storage/outbox.js';

async function series(metrics: Metrics, line: string): Promise<number | null> {
  const text = await metrics.registry.metrics();
  const found = text.split('\n').find((candidate) => candidate.startsWith(`${line} `));
  return found === undefined ? null : Number(found.slice(line.length + 1));
}

function claimed(eventId: string, url: string): ClaimedDelivery {
  return { id: 1, eventId, session: 's', event: 'presence.update', url, webhookKey: 'k', orderKey: 'k|c', target: '{}', attempts: 0, body: '{}' };
}

describe('metric observers', () => {
  it('a gauge that cannot be read leaves the rest of the scrape alone and is counted', async () => {
    const metrics = createMetrics({ sessionLabels: false, defaults: false });
    registerGauges(metrics, { sessions: () => Promise.reject(new Error('database is gone')), hub: { size: () => 2 } });
    expect(await series(metrics, 'wa_presence_websocket_clients')).toBe(2);
    expect(await series(metrics, 'wa_presence_scrape_read_failures_total{gauge="wa_presence_sessions"}')).toBe(1);
    expect(await metrics.registry.metrics()).not.toMatch(/^wa_presence_sessions\{/m);
  });

  it('storage latency: a bound histogram series, cumulative buckets, sum and count as prom-client would expose them', async () => {
    const metrics = createMetrics({ sessionLabels: false, defaults: false });
    const cell = metrics.storageLatency.cell({ store: 'presence', backend: 'sqlite' });
    for (const seconds of [0.00004, 0.0003, 0.0003, 2]) cell.observe(seconds);
    const base = 'wa_presence_storage_operation_seconds';
    expect(await series(metrics, `${base}_bucket{le="0.00005",store="presence",backend="sqlite"}`)).toBe(1);
    expect(await series(metrics, `${base}_bucket{le="0.00025",store="presence",backend="sqlite"}`)).toBe(1);
    expect(await series(metrics, `${base}_bucket{le="0.0005",store="presence",backend="sqlite"}`)).toBe(3);
    expect(await series(metrics, `${base}_bucket{le="1",store="presence",backend="sqlite"}`)).toBe(3);
    expect(await series(metrics, `${base}_bucket{le="+Inf",store="presence",backend="sqlite"}`)).toBe(4);
    expect(await series(metrics, `${base}_count{store="presence",backend="sqlite"}`)).toBe(4);
    expect(await series(metrics, `${base}_sum{store="presence",backend="sqlite"}`)).toBeCloseTo(2.00064, 6);
    expect(await metrics.registry.metrics()).toContain(`# TYPE ${base} histogram`);
  });

  it('deliveries: each outcome by host, latency from the event id to the 2xx', async () => {
    const metrics = createMetrics({ sessionLabels: false, defaults: false });
    let now = 1_000_000;
    const observe = deliveryObserver(metrics, { now: () => now });
    const id = newEventId(Date.now());
    now = Date.now() + 300;
    const url = 'http://hooks.test:9000/a/b?token=x';
    observe(claimed(id, url), { kind: 'retry', nextAttemptAt: 0, error: 'HTTP 500', status: 500 });
    observe(claimed(id, url), { kind: 'delivered', status: 204 });
    observe(claimed(id, 'http://other.test/'), { kind: 'failed', error: 'HTTP 404', status: 404 });
    expect(await series(metrics, 'wa_presence_webhook_deliveries_total{outcome="retried",host="hooks.test:9000"}')).toBe(1);
    expect(await series(metrics, 'wa_presence_webhook_deliveries_total{outcome="delivered",host="hooks.test:9000"}')).toBe(1);
    expect(await series(metrics, 'wa_presence_webhook_deliveries_total{outcome="failed",host="other.test"}')).toBe(1);
    expect(await series(metrics, 'wa_presence_webhook_delivery_seconds_count{host="hooks.test:9000"}')).toBe(1);
    expect(await series(metrics, 'wa_presence_webhook_delivery_seconds_bucket{le="0.25",host="hooks.test:9000"}')).toBe(0);
    expect(await series(metrics, 'wa_presence_webhook_delivery_seconds_bucket{le="0.5",host="hooks.test:9000"}')).toBe(1);
  });

  it('WebSocket: a client closed for reading too slowly is counted as a drop', async () => {
    const metrics = createMetrics({ sessionLabels: false, defaults: false });
    const hub = instrumentHub(createHub({ maxBufferedBytes: 10 }), metrics);
    const closed: number[] = [];
    const client = (buffered: number): HubClient => ({ send: () => undefined, bufferedAmount: buffered, close: (code) => closed.push(code) });
    hub.subscribe({ session: '*', events: ['*'] }, client(0));
    hub.subscribe({ session: '*', events: ['*'] }, client(100));
    hub.publish('s', 'presence.update', '{}');
    expect(closed).toEqual([1013]);
    expect(hub.size()).toBe(1);
    expect(await series(metrics, 'wa_presence_websocket_drops_total')).toBe(1);
  });

  it('several servers: renewals, losses, relay lag, and the renewer alive only while it reports', async () => {
    const metrics = createMetrics({ sessionLabels: false, defaults: false });
    let now = Date.now();
    const cluster = clusterMetrics(metrics, { now: () => now });
    cluster.observer.leasesRenewed(3);
    cluster.lost();
    cluster.observer.relayed(newEventId(now));
    expect(await series(metrics, 'wa_presence_lease_renewals_total')).toBe(3);
    expect(await series(metrics, 'wa_presence_lease_losses_total')).toBe(1);
    expect(await series(metrics, 'wa_presence_relay_lag_seconds_count')).toBe(1);
    expect(cluster.renewerAlive(10_000)).toBe(true);
    now += 10_001;
    expect(cluster.renewerAlive(10_000)).toBe(false);
    cluster.observer.leasesRenewed(0);
    expect(cluster.renewerAlive(10_000)).toBe(true);
  });
});
