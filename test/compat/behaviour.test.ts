import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { DEFAULT_RETRIES } from '../../src/events/retry.js';
import { parseWsQuery } from '../../src/http/routes/ws.js';
import { acceptsJsonOnly, generatedSessionName, whenWorking, withWahaDefaults, withoutNulls } from '../../src/http/waha.js';
import { ME, httpHarness } from '../support/http.js';

/** Issue 12: what WAHA clients do at the edges, one behaviour each. */

describe('WAHA clients at the edges', () => {
  it('reads null fields as absent: webhooks: null is no webhooks, not [null]; chatId: null with online', async () => {
    const h = await httpHarness();
    const created = await h.request('POST', '/api/sessions', { name: 'n', start: null, apps: null, config: { webhooks: null, metadata: null, proxy: null } });
    expect(created.statusCode).toBe(201);
    expect(created.json<{ config: unknown }>().config).toEqual({});
    expect(h.engines.latest('n').context.config).toEqual({});
    expect(withoutNulls({ a: null, b: [null, { c: null, d: 1 }], e: { f: null } })).toEqual({ b: [null, { d: 1 }], e: {} });
  });

  it("gives a webhook's partial retries WAHA's defaults, and signs nothing for an hmac without key", async () => {
    const h = await httpHarness();
    const webhooks = [
      { url: 'http://127.0.0.1:9/a', events: ['session.status'], retries: { delaySeconds: 5, attempts: 3 }, hmac: {} },
      { url: 'http://127.0.0.1:9/b', events: ['*'], retries: { policy: 'linear' }, hmac: { key: '' } },
    ];
    const created = await h.request('POST', '/api/sessions', { name: 'r', start: false, config: { webhooks } });
    expect(created.statusCode).toBe(201);
    expect(created.json<{ config: unknown }>().config).toEqual({
      webhooks: [
        { url: 'http://127.0.0.1:9/a', events: ['session.status'], retries: { policy: DEFAULT_RETRIES.policy, delaySeconds: 5, attempts: 3 } },
        { url: 'http://127.0.0.1:9/b', events: ['*'], retries: { policy: 'linear', delaySeconds: DEFAULT_RETRIES.delaySeconds, attempts: DEFAULT_RETRIES.attempts } },
      ],
    });
    expect(withWahaDefaults({ url: 'http://x', events: ['*'], hmac: { key: 'k' } })).toEqual({ url: 'http://x', events: ['*'], hmac: { key: 'k' } });
  });

  it.each([
    ['POST', '/api/p/presence', { presence: 'typing', chatId: '111@c.us', durationMS: 5000 }, 'durationMS is not a known field; remove it'],
    ['POST', '/api/sessions', { name: 'x', config: { webhooks: [{ url: 'http://x', events: ['*'], retries: { polcy: 'linear' } }] } }, 'config.webhooks[0].retries.polcy is not a known field; remove it'],
    ['PUT', '/api/sessions/p', { config: {}, app: [] }, 'app is not a known field; remove it'],
    ['POST', '/api/startTyping', { session: 'p', chatId: '111@c.us', durationMs: 1000, extra: null, typo: 1 }, 'typo is not a known field; remove it'],
  ] as const)('still refuses an unknown field with a 400 naming it: %s %s %j', async (method, url, body, message) => {
    const h = await httpHarness();
    await h.working('p');
    const response = await h.request(method, url, body);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'VALIDATION_FAILED', message });
  });

  it('creates "default" without a name, then a generated name once "default" exists, as WAHA', async () => {
    const h = await httpHarness();
    const first = await h.request('POST', '/api/sessions', { start: false });
    expect(first.json()).toMatchObject({ name: 'default' });
    const second = await h.request('POST', '/api/sessions', { start: false });
    expect(second.statusCode).toBe(201);
    expect(second.json<{ name: string }>().name).toMatch(/^session_[0-9a-f]{8}$/);
    expect(generatedSessionName(() => Buffer.from([1, 2, 3, 255]))).toBe('session_010203ff');
    // A name given and taken is still a conflict (WAHA's document gives no status for it: ours stays 409).
    expect((await h.request('POST', '/api/sessions', { name: 'default' })).statusCode).toBe(409);
  });

  it('PUT /api/sessions/{session} with apps only keeps the config and does not restart', async () => {
    const h = await httpHarness();
    await h.working('u');
    const response = await h.request('PUT', '/api/sessions/u', { apps: [] });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: 'WORKING', me: ME });
    expect(h.engines.count('u')).toBe(1);
    expect((await h.request('PUT', '/api/sessions/u', { apps: [{ app: 'calls' }] })).json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'apps' });
  });

  it('a presence call right after a restart waits for WORKING instead of answering 422', async () => {
    const h = await httpHarness();
    await h.working('w');
    expect((await h.request('POST', '/api/sessions/w/restart')).json()).toMatchObject({ status: 'STARTING' });
    const call = h.request('POST', '/api/w/presence', { presence: 'online', chatId: null });
    // The engine is late: it reports WORKING 150 ms after the call, which meanwhile finds it STARTING
    // (the retry itself is proven with a fake clock below).
    const engine = h.engines.latest('w');
    await new Promise((resolve) => setTimeout(resolve, 150));
    engine.working(ME);
    const response = await call;
    expect(response.statusCode).toBe(201);
    expect(engine.callsOf('setPresence')).toHaveLength(1);
  });

  it('whenWorking gives up after its timeout with the 422, and does not wait for other statuses', async () => {
    let now = 0;
    const waits: number[] = [];
    const options = { timeoutMs: 5_000, intervalMs: 100, clock: { now: () => now, sleep: (ms: number) => ((now += ms), waits.push(ms), Promise.resolve()) } };
    const starting = new AppError('SESSION_NOT_WORKING', 'STARTING', { status: 'STARTING' });
    await expect(whenWorking(() => Promise.reject(starting), options)).rejects.toBe(starting);
    expect(now).toBe(5_000);
    expect(waits).toHaveLength(50);
    const scanning = new AppError('SESSION_NOT_WORKING', 'SCAN_QR_CODE', { status: 'SCAN_QR_CODE' });
    now = 0;
    await expect(whenWorking(() => Promise.reject(scanning), options)).rejects.toBe(scanning);
    expect(now).toBe(0);
    let calls = 0;
    await expect(whenWorking(() => (calls += 1) < 3 ? Promise.reject(starting) : Promise.resolve('done'), options)).resolves.toBe('done');
  });

  it('serves the OpenAPI document at /-json too, without the API key', async () => {
    const h = await httpHarness();
    const waha = await h.server.inject({ method: 'GET', url: '/-json' });
    expect(waha.statusCode).toBe(200);
    expect(waha.json()).toEqual((await h.server.inject({ method: 'GET', url: '/openapi.json' })).json());
  });

  it('/ws takes repeated events=a&events=b, as WAHA clients send it', () => {
    expect(parseWsQuery({ events: ['presence.update', 'session.status'] })).toEqual({ ok: true, filter: { session: '*', events: ['presence.update', 'session.status'] } });
    expect(parseWsQuery({ events: ['presence.update', '*'] })).toEqual({ ok: true, filter: { session: '*', events: ['*'] } });
    expect(parseWsQuery({ events: ['presence.update', 'nope'] })).toMatchObject({ ok: false });
  });

  it.each([
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['application/json, text/plain, */*', false],
    ['application/json, image/png;q=0', true],
    ['image/png', false],
    ['*/*', false],
    [undefined, false],
  ] as const)('QR negotiation: Accept %s → JSON %s', (accept, json) => {
    expect(acceptsJsonOnly(accept)).toBe(json);
  });
});
