import { describe, expect, it } from 'vitest';
import { newEventId } from '../../src/events/envelope.js';
import { eventTime, hostOf } from '../../src/metrics/delivery.js';
import { closeReason } from '../../src/metrics/engine.js';
import { hasPromtool, KEY, metricsHarness, promtool } from './support.js';

const ME = { id: '15550000001@c.us', pushName: 'Test' };

async function working(h: Awaited<ReturnType<typeof metricsHarness>>, name = 'default') {
  const created = await h.app.server.inject({ method: 'POST', url: '/api/sessions', headers: { 'x-api-key': KEY }, payload: { name } });
  expect(created.statusCode).toBe(201);
  const engine = h.engines.latest(name);
  engine.working(ME);
  await h.app.sessions.settled(name);
  return engine;
}

describe('GET /metrics', () => {
  it('takes the key as X-Api-Key or Bearer, and refuses none or a wrong one', async () => {
    const h = await metricsHarness();
    expect((await h.scrape()).status).toBe(200);
    expect((await h.scrape({ 'x-api-key': KEY })).status).toBe(200);
    expect((await h.scrape({ authorization: 'Bearer nope' })).status).toBe(401);
    expect((await h.scrape({})).status).toBe(401);
  });

  it('counts connects, reconnects, closes by reason, presence received by kind and sent, subscribes and published events', async () => {
    const h = await metricsHarness();
    const engine = await working(h);
    expect(await h.value('wa_presence_engine_connects_total')).toBe(1);
    expect(await h.value('wa_presence_engine_reconnects_total')).toBe(0);
    engine.emit({ type: 'status', status: 'STARTING', reason: 'Connection to WhatsApp lost; reconnecting (attempt 1)' });
    engine.status('WORKING');
    await h.app.sessions.settled('default');
    expect(await h.value('wa_presence_engine_closes_total{reason="connection_lost"}')).toBe(1);
    expect(await h.value('wa_presence_engine_reconnects_total')).toBe(1);
    expect(await h.value('wa_presence_engine_connects_total')).toBe(2);

    engine.presence('4915550001@c.us', [{ participant: '4915550001@c.us', lastKnownPresence: 'online', lastSeen: null }]);
    engine.presence('120363000000000001@g.us', [{ participant: '4915550001@c.us', lastKnownPresence: 'typing', lastSeen: null }]);
    await h.app.sessions.settled('default');
    expect(await h.value('wa_presence_presence_updates_received_total{kind="presence",chat="contact"}')).toBe(1);
    expect(await h.value('wa_presence_presence_updates_received_total{kind="chatstate",chat="group"}')).toBe(1);
    expect(await h.value('wa_presence_presence_updates_received_total{kind="chatstate",chat="contact"}')).toBe(0);
    expect(await h.value('wa_presence_events_published_total{event="presence.update"}')).toBe(2);
    expect(await h.value('wa_presence_events_published_total{event="session.status"}')).toBeGreaterThanOrEqual(3);

    const post = (url: string, payload?: Record<string, unknown>) => h.app.server.inject({ method: 'POST', url, headers: { 'x-api-key': KEY }, ...(payload === undefined ? {} : { payload }) });
    expect((await post('/api/default/presence', { presence: 'online' })).statusCode).toBeLessThan(300);
    expect((await post('/api/default/presence/4915550001@c.us/subscribe')).statusCode).toBeLessThan(300);
    engine.failNext('subscribe', new Error('refused'));
    expect((await post('/api/default/presence/4915550002@c.us/subscribe')).statusCode).toBeGreaterThanOrEqual(400);
    expect(await h.value('wa_presence_presence_updates_sent_total{presence="online"}')).toBe(1);
    expect(await h.value('wa_presence_subscribes_sent_total{result="ok"}')).toBe(1);
    expect(await h.value('wa_presence_subscribes_sent_total{result="error"}')).toBe(1);
    expect(await h.value('wa_presence_sessions{status="WORKING"}')).toBe(1);
    expect(await h.value('wa_presence_sessions{status="FAILED"}')).toBe(0);
    expect(await h.value('wa_presence_subscriptions')).toBe(1);

    // A reconnect renews the subscription (and the global presence): the renewal observer counts it.
    engine.emit({ type: 'status', status: 'STARTING', reason: 'Connection to WhatsApp lost; reconnecting (attempt 1)' });
    engine.status('WORKING');
    await h.app.sessions.settled('default');
    expect(await h.value('wa_presence_subscriptions_renewed_total')).toBe(1);
    // Every WORKING starts a renewal, with or without subscriptions: three so far.
    expect(await h.value('wa_presence_renewal_duration_seconds_count')).toBe(3);
    expect(await h.value('wa_presence_presence_updates_sent_total{presence="online"}')).toBe(2);

    const { text } = await h.scrape();
    expect(text).toMatch(/wa_presence_storage_operation_seconds_count\{store="presence",backend="sqlite"\} [1-9]/);
    expect(text).not.toContain('session=');
    expect(text).toContain('wa_presence_nodejs_eventloop_lag_seconds');
  });

  it.skipIf(!hasPromtool)('passes promtool check metrics, with and without session labels', async () => {
    for (const sessionLabels of [false, true]) {
      const h = await metricsHarness({ sessionLabels });
      const engine = await working(h, 'lint');
      engine.presence('4915550001@c.us', [{ participant: '4915550001@c.us', lastKnownPresence: 'online', lastSeen: null }]);
      await h.app.sessions.settled('lint');
      const { text } = await h.scrape();
      const lint = promtool(['check', 'metrics'], text);
      expect(lint.output).toBe('');
      expect(lint.status).toBe(0);
      if (sessionLabels) expect(text).toContain('wa_presence_presence_updates_received_total{kind="presence",chat="contact",session="lint"} 1');
    }
  });

  it('labels webhooks by host only and reads the accept time from the event id', () => {
    expect(hostOf('https://user:secret@hooks.example.com:8443/path/TOKEN?sig=abc')).toBe('hooks.example.com:8443');
    expect(hostOf('not a url')).toBe('invalid');
    const at = Date.now() + 1;
    expect(eventTime(newEventId(at))).toBe(at);
    expect(eventTime('something-else')).toBeNull();
  });

  it('names close reasons from the next status, never from the free-text reason', () => {
    expect(closeReason({ status: 'STARTING', reason: 'anything' })).toBe('connection_lost');
    expect(closeReason({ status: 'STARTING' })).toBe('restart_required');
    expect(closeReason({ status: 'STOPPED', reason: 'x', unlinked: true })).toBe('logged_out');
    expect(closeReason({ status: 'FAILED', reason: 'banned' })).toBe('failed');
  });

  it('reports the outbox backlog and the age of its oldest delivery by webhook host', async () => {
    const h = await metricsHarness();
    const now = Date.now();
    const delivery = (chat: string) => ({ url: 'https://hooks.example.com/secret-token', webhookKey: 'k', orderKey: `k|${chat}`, target: '{}' });
    await h.storage.outbox.enqueue({ id: 'evt_a', session: 's', event: 'presence.update', body: '{}' }, [delivery('1')], now - 5000);
    await h.storage.outbox.enqueue({ id: 'evt_b', session: 's', event: 'presence.update', body: '{}' }, [delivery('2')], now - 1000);
    expect(await h.value('wa_presence_outbox_pending{host="hooks.example.com"}')).toBe(2);
    const age = await h.value('wa_presence_outbox_oldest_pending_seconds{host="hooks.example.com"}');
    expect(age).toBeGreaterThanOrEqual(5);
    expect(age).toBeLessThan(60);
    const { text } = await h.scrape();
    expect(text).not.toContain('secret-token');
  });
});
