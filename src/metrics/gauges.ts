import type { Hub } from '../events/hub.js';
import type { SessionInfo } from '../presence/sessions.js';
import { SESSION_STATUSES } from '../presence/status.js';
import type { OutboxStore } from '../storage/outbox.js';
import type { SubscriptionStore } from '../storage/presence.js';
import { hostOf } from './delivery.js';
import type { GaugeRow, Metrics } from './metrics.js';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';

/** What the scrape-time gauges read; each part is optional, so a test or benchmark wires what it has. */
export interface GaugeSources {
  /** Every session as the list route answers it (on several servers: the cluster's shared view). */
  readonly sessions?: () => Promise<readonly SessionInfo[]>;
  readonly subscriptions?: Pick<SubscriptionStore, 'list'>;
  readonly outbox?: Pick<OutboxStore, 'pendingByWebhook'>;
  readonly hub?: Pick<Hub, 'size'>;
  /** The delivery worker's count of deliveries dropped over the outbox cap (`worker.stats().dropped`). */
  readonly dropped?: () => number;
  /** Several servers: leases this server holds now (`cluster.ownership.held().length`). */
  readonly leasesHeld?: () => number;
  readonly clock?: Pick<Clock, 'now'>;
}

/**
 * Registers the gauges computed when Prometheus scrapes, from the session manager's list, the
 * subscription store, the outbox and the hub: nothing on the hot path keeps them up to date.
 * A scrape reads the session list once, each session's subscriptions once (one query each) and one
 * grouped query of the pending deliveries.
 */
export function registerGauges(metrics: Metrics, sources: GaugeSources): void {
  const clock = sources.clock ?? systemClock;
  const listSessions = sources.sessions;
  if (listSessions !== undefined) {
    metrics.gauge({
      name: 'wa_presence_sessions',
      help: 'Sessions by status (on several servers every server reports the whole cluster: aggregate with max, not sum).',
      labelNames: metrics.sessionLabels ? ['status', 'session'] : ['status'],
      read: async () => {
        const sessions = await listSessions();
        if (metrics.sessionLabels) return sessions.map((session) => ({ labels: { status: session.status, session: session.name }, value: 1 }));
        const counts = new Map<string, number>(SESSION_STATUSES.map((status) => [status, 0]));
        for (const session of sessions) counts.set(session.status, (counts.get(session.status) ?? 0) + 1);
        return [...counts].map(([status, value]) => ({ labels: { status }, value }));
      },
    });
    const subscriptions = sources.subscriptions;
    if (subscriptions !== undefined) {
      metrics.gauge({
        name: 'wa_presence_subscriptions',
        help: 'Presence subscriptions held (stored, renewed after every reconnect).',
        labelNames: metrics.sessionLabels ? ['session'] : [],
        read: async () => {
          const sessions = await listSessions();
          const counts = await Promise.all(sessions.map(async (session) => ({ session: session.name, n: (await subscriptions.list(session.name)).length })));
          if (metrics.sessionLabels) return counts.map(({ session, n }) => ({ labels: { session }, value: n }));
          return [{ labels: {}, value: counts.reduce((sum, { n }) => sum + n, 0) }];
        },
      });
    }
  }
  const outbox = sources.outbox;
  if (outbox !== undefined) {
    // One grouped query serves both gauges of a scrape: the second reuses the first's rows.
    let last: { at: number; rows: Promise<Awaited<ReturnType<OutboxStore['pendingByWebhook']>>> } | null = null;
    const pending = (): Promise<Awaited<ReturnType<OutboxStore['pendingByWebhook']>>> => {
      const at = clock.now();
      if (last === null || at - last.at > 1000) last = { at, rows: outbox.pendingByWebhook() };
      return last.rows;
    };
    const byHost = async (value: (count: number, oldest: number, at: number) => number, merge: (a: number, b: number) => number): Promise<GaugeRow<'host'>[]> => {
      const at = clock.now();
      const hosts = new Map<string, number>();
      for (const row of await pending()) {
        const host = hostOf(row.url);
        const v = value(row.pending, row.oldestCreatedAt, at);
        const known = hosts.get(host);
        hosts.set(host, known === undefined ? v : merge(known, v));
      }
      return [...hosts].map(([host, v]) => ({ labels: { host }, value: v }));
    };
    metrics.gauge({
      name: 'wa_presence_outbox_pending',
      help: 'Webhook deliveries waiting in the outbox, by webhook host.',
      labelNames: ['host'],
      read: () => byHost((count) => count, (a, b) => a + b),
    });
    metrics.gauge({
      name: 'wa_presence_outbox_oldest_pending_seconds',
      help: 'Age of the oldest delivery still waiting in the outbox, by webhook host.',
      labelNames: ['host'],
      read: () => byHost((_count, oldest, at) => Math.max(0, at - oldest) / 1000, Math.max),
    });
  }
  const hub = sources.hub;
  if (hub !== undefined) {
    metrics.gauge({ name: 'wa_presence_websocket_clients', help: 'WebSocket clients connected to this server.', labelNames: [], read: () => Promise.resolve([{ labels: {}, value: hub.size() }]) });
  }
  const dropped = sources.dropped;
  // The worker counts drops (one query drops many, with no host): its total is copied when scraped.
  if (dropped !== undefined) metrics.deliveries.derive({ outcome: 'dropped', host: '' }, dropped);
  const leasesHeld = sources.leasesHeld;
  if (leasesHeld !== undefined) {
    metrics.gauge({ name: 'wa_presence_leases_held', help: 'Several servers: session leases this server holds.', labelNames: [], read: () => Promise.resolve([{ labels: {}, value: leasesHeld() }]) });
  }
}
